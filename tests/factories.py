import hashlib
import uuid

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token

from reviewapp.review.models import Camera, Clip, Customer, Profile, ReviewItem


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"customer-{n}")


class CameraFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Camera

    customer = factory.SubFactory(CustomerFactory)
    name = factory.Sequence(lambda n: f"cam-{n}")
    threshold = 0.5
    review_band = 0.15


class ClipFactory(factory.django.DjangoModelFactory):
    """A processed clip row. Its file is not on disk: for tests of queries, not of video."""

    class Meta:
        model = Clip

    id = factory.LazyFunction(uuid.uuid4)
    camera = factory.SubFactory(CameraFactory)
    recorded_at = factory.LazyFunction(timezone.now)
    file = factory.LazyAttribute(lambda o: f"clips/{o.camera.name}/x/{o.id}.mp4")
    sha256 = factory.LazyAttribute(lambda o: hashlib.sha256(str(o.id).encode()).hexdigest())
    size_bytes = 1000
    duration = 60.0
    fps = 10.0
    width = 640
    height = 480
    status = Clip.Status.DONE
    sent_at = factory.LazyFunction(timezone.now)
    score = 0.6
    alert = True
    model_version = "test"


class ReviewItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReviewItem

    clip = factory.SubFactory(ClipFactory)
    reason = ReviewItem.Reason.NEAR_THRESHOLD
    priority = 1
    distance = factory.LazyAttribute(lambda o: abs((o.clip.score or 0) - o.clip.camera.threshold))


def make_user(username, role=None, customer=None, *, staff=False, password="pw-123456"):
    user = get_user_model().objects.create_user(username=username, password=password, is_staff=staff)
    if role:
        Profile.objects.create(user=user, role=role, customer=customer)
    Token.objects.create(user=user)
    return user


def clip_detail_write(clip, boxes, *, summary: bool = True):
    """Give a clip its per-frame detail as the worker would: `boxes` are dicts with frame_index,
    frame_time, x1, y1, x2, y2, score and optionally label ("person"), descriptor (an array or
    its bytes) and suppressed_by (a rule id). The detail file is written through the default
    storage and named on the clip; with `summary`, the Detection rows the worker keeps too (the
    best unsuppressed person box, the best box of each rule)."""
    from inference.detector import Box
    from inference.pipeline import FrameResult
    from inference.suppression import from_bytes
    from reviewapp.review import detail
    from reviewapp.review.models import Detection

    by_frame: dict[int, list[dict]] = {}
    for b in sorted(boxes, key=lambda b: b["frame_index"]):
        by_frame.setdefault(b["frame_index"], []).append(b)
    frames, rules = [], []
    for index, bs in by_frame.items():
        descs = [b.get("descriptor") for b in bs]
        descs = [from_bytes(d) if isinstance(d, bytes | memoryview) else d for d in descs]
        boxes_ = [Box(b["x1"], b["y1"], b["x2"], b["y2"], b["score"], b.get("label", "person")) for b in bs]
        frames.append(FrameResult(index, bs[0]["frame_time"], boxes_, descs, (clip.width, clip.height)))
        rules.append(tuple(b.get("suppressed_by") for b in bs))
    clip.detail = detail.detail_write(clip=clip, frames=frames, suppressed_by=rules)
    clip.detections_count = sum(len(f.boxes) for f in frames)
    clip.save(update_fields=["detail", "detections_count"])
    if summary:
        decision = detail.summary_of(frames, rules)
        Detection.objects.filter(clip=clip).delete()
        Detection.objects.bulk_create(detail.summary_detections(clip=clip, frames=frames, decision=decision))
    return clip

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

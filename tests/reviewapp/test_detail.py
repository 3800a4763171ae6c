"""A clip's per-frame detail in object storage (reviewapp/review/detail.py): what the worker
writes and keeps, who reads it back, and its retention."""

from datetime import timedelta

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from inference.suppression import to_bytes
from reviewapp.review import detail, ingest, processing, queue
from reviewapp.review.models import Clip, Detection, Review, ReviewItem
from reviewapp.review.tasks import expire_clip_details
from tests.conftest import api_client
from tests.factories import ClipFactory, clip_detail_write
from tests.reviewapp.test_s3_storage import s3_storage  # noqa: F401  (a fixture)

LOOK = np.linspace(0, 1, 196, dtype=np.float32)


def boxes(n: int = 3, *, rule=None) -> list[dict]:
    return [
        {"frame_index": i * 5, "frame_time": i / 2, "x1": 10.0 + i, "y1": 20.0, "x2": 110.0, "y2": 220.0,
         "score": 0.3 + i / 10, "descriptor": LOOK * (i + 1), "suppressed_by": rule if i == 0 else None}
        for i in range(n)
    ]  # fmt: skip


def old_clip(world, *, days: float, **kwargs) -> Clip:
    clip = ClipFactory(camera=world.cam_a, finished_at=timezone.now() - timedelta(days=days), **kwargs)
    return clip_detail_write(clip, boxes())


def test_the_detail_keeps_every_box_with_its_descriptor_and_rule_and_the_database_a_handful(world):
    from reviewapp.tuning.models import SuppressionRule

    rule = SuppressionRule.objects.create(
        camera=world.cam_a,
        x1=0,
        y1=0,
        x2=0.5,
        y2=0.5,
        descriptor=to_bytes(LOOK),
        descriptor_version=1,
        iou_min=0.5,
        similarity_min=0.9,
        source_score=0.4,
    )
    clip = clip_detail_write(ClipFactory(camera=world.cam_a), boxes(4, rule=rule.id))
    assert clip.detail == clip.file.name.removesuffix(".mp4") + ".detections.json.gz"  # the file is <id>.mp4
    assert default_storage.exists(clip.detail)
    clip = Clip.objects.get(id=clip.id)  # a fresh read: from the file, not a cache of this object
    found = detail.clip_detail(clip)
    assert [f.index for f in found.frames] == [0, 5, 10, 15]
    assert [b.suppressed_by_id for b in found.boxes] == [rule.id, None, None, None]
    assert bytes(found.boxes[2].descriptor) == to_bytes(LOOK * 3)
    np.testing.assert_array_equal(found.frames[1].descriptors[0], LOOK * 2)
    # Rows: the deciding box (the best unsuppressed person) and the rule's best box, no descriptors.
    kept = sorted(clip.detections.all(), key=lambda d: d.score)
    assert [(d.frame_index, d.suppressed_by_id) for d in kept] == [(0, rule.id), (15, None)]
    assert all(d.descriptor is None for d in kept)


def test_a_processed_clip_detail_goes_to_s3_beside_the_clip(world, video, s3_storage):  # noqa: F811
    s3, bucket = s3_storage
    clip, _ = ingest.clip_ingest(camera=world.cam_a, path=str(video()), recorded_at=timezone.now())
    processing.clip_process(clip_id=clip.id)
    clip.refresh_from_db()
    assert clip.status == Clip.Status.DONE
    head = s3.head_object(Bucket=bucket, Key=clip.detail)
    assert clip.detail == clip.file.name.rsplit(".", 1)[0] + ".detections.json.gz" and head["ContentLength"] > 0
    assert len(detail.clip_detail(clip).frames) == clip.frames_detected


def test_a_clip_processed_before_the_detail_is_read_from_its_rows(world):
    clip = ClipFactory(camera=world.cam_a)  # detail "" : processed before 0010_clip_detail
    Detection.objects.create(
        clip=clip, frame_index=3, frame_time=0.3, x1=1, y1=2, x2=30, y2=60, score=0.7, descriptor=to_bytes(LOOK)
    )
    (box,) = detail.clip_boxes(clip)
    assert (box.frame_index, box.score, bytes(box.descriptor)) == (3, 0.7, to_bytes(LOOK))


def test_the_backfill_moves_an_old_clips_rows_to_its_detail_and_keeps_the_deciding_box(world):
    from django.core.management import call_command

    clip = ClipFactory(camera=world.cam_a)  # processed before 0010_clip_detail: a row per box
    for i, score in enumerate((0.2, 0.7, 0.4)):
        Detection.objects.create(
            clip=clip, frame_index=i, frame_time=i / 2, x1=1, y1=2, x2=30, y2=60, score=score, descriptor=to_bytes(LOOK)
        )
    before = [(b.frame_index, b.score, b.descriptor) for b in detail.clip_boxes(clip)]
    call_command("clip_details_backfill")
    call_command("clip_details_backfill")  # nothing left: moved once
    clip.refresh_from_db()
    assert clip.detail and default_storage.exists(clip.detail)
    assert [(b.frame_index, b.score, b.descriptor) for b in detail.clip_boxes(clip)] == before
    (kept,) = clip.detections.all()
    assert (kept.frame_index, kept.score, kept.descriptor) == (1, 0.7, None)


def test_the_detail_of_clips_nobody_reviewed_or_reported_expires(world, settings):
    settings.CLIP_DETAIL_RETENTION_DAYS = 30
    stale = old_clip(world, days=31)
    recent = old_clip(world, days=29)
    reviewed = old_clip(world, days=40)
    item = queue.review_item_enqueue(clip=reviewed, reason=ReviewItem.Reason.NEAR_THRESHOLD)
    Review.objects.create(item=item, clip=reviewed, reviewer=world.reviewer, verdict="no_person")
    reported = old_clip(world, days=40, alert=True)
    reported.reports.create(reported_by=world.customer_a, reason="a cat")
    name = stale.detail

    assert expire_clip_details() == 1  # the beat task
    assert expire_clip_details() == 0  # nothing left to do, nothing counted twice
    stale.refresh_from_db()
    assert stale.detail_expired_at is not None and not default_storage.exists(name)
    assert detail.clip_detail(stale) is None
    for clip in (recent, reviewed, reported):
        clip.refresh_from_db()
        assert clip.detail_expired_at is None and default_storage.exists(clip.detail)
        assert len(detail.clip_boxes(clip)) == 3


def test_the_clip_page_and_api_say_the_detail_is_gone_instead_of_failing(world, settings):
    settings.CLIP_DETAIL_RETENTION_DAYS = 30
    clip = old_clip(world, days=31)
    detail.details_expire(now=timezone.now())
    client = Client()
    client.force_login(world.reviewer)
    page = client.get(f"/clips/{clip.id}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "detail of this clip is gone" in text and "after 30 days" in text
    body = api_client(world.reviewer).get(f"/api/v1/clips/{clip.id}/").json()
    assert body["detail_gone"] is True
    assert [d["score"] for d in body["detections"]] == [pytest.approx(0.5)]  # the deciding box, kept


def test_suppress_similar_on_a_clip_without_detail_is_a_400_and_stores_nothing(world):
    clip = ClipFactory(camera=world.cam_a)
    Clip.objects.filter(id=clip.id).update(detail="gone.detections.json.gz", detail_expired_at=timezone.now())
    item = queue.review_item_enqueue(clip=clip, reason=ReviewItem.Reason.CUSTOMER_REPORT)
    response = api_client(world.reviewer).post(
        f"/api/v1/review/{item.id}/decision/", {"verdict": "no_person", "suppress_similar": True}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "nothing_to_suppress"
    assert not Review.objects.filter(clip=clip).exists()


def test_retention_zero_keeps_every_detail(world, settings):
    settings.CLIP_DETAIL_RETENTION_DAYS = 0
    clip = old_clip(world, days=400)
    assert detail.details_expire(now=timezone.now()) == 0
    clip.refresh_from_db()
    assert clip.detail_expired_at is None and default_storage.exists(clip.detail)


def test_the_retention_runs_on_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["expire-clip-details"]
    assert entry["task"] == "reviewapp.tasks.expire_clip_details"

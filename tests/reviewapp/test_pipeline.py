from pathlib import Path

import pytest

from reviewapp.review import detail, ingest, processing, tasks
from reviewapp.review.demo import photo, write_clip
from reviewapp.review.models import Clip, ReviewItem
from tests.factories import ClipFactory


def ingest_clip(camera, path, **kwargs):
    from django.utils import timezone

    clip, created = ingest.clip_ingest(camera=camera, path=str(path), recorded_at=timezone.now(), **kwargs)
    assert created
    return clip


@pytest.fixture
def astronaut_clip(tmp_path):
    return write_clip(tmp_path / "astronaut.mp4", photo("astronaut"), seconds=3, fps=10)


def test_it_detects_decides_and_records_timings(world, astronaut_clip):
    clip = ingest_clip(world.cam_a, astronaut_clip)
    processing.clip_process(clip_id=clip.id)
    clip.refresh_from_db()
    assert clip.status == Clip.Status.DONE
    assert clip.frames_sampled == 6  # 3 s at 2 fps
    boxes = detail.clip_boxes(clip)  # every box of every frame: the detail file beside the clip
    assert boxes, "the detector finds the astronaut"
    assert clip.detail.endswith(".detections.json.gz") and clip.detections_count == len(boxes)
    assert clip.score == pytest.approx(max(b.score for b in boxes if b.label == "person"))
    # The database keeps the deciding box only (no rule here), without its descriptor.
    (kept,) = clip.detections.all()
    assert kept.score == pytest.approx(clip.score) and kept.descriptor is None
    assert clip.alert == (clip.score >= world.cam_a.threshold)
    assert clip.model_version.startswith("centernet-")
    assert clip.decode_ms > 0 and clip.detect_ms > 0 and clip.processing_ms > 0
    times = sorted({b.frame_time for b in boxes})
    assert all(t in (0.0, 0.5, 1.0, 1.5, 2.0, 2.5) for t in times)
    world.cam_a.refresh_from_db()
    assert (world.cam_a.width, world.cam_a.height) == (640, 480)


def test_a_clip_near_the_threshold_goes_to_the_review_queue(world, astronaut_clip):
    clip = ingest_clip(world.cam_a, astronaut_clip)
    processing.clip_process(clip_id=clip.id)
    clip.refresh_from_db()
    # Put the threshold just above the score: not an alert, but close enough to look at.
    world.cam_a.threshold = min(clip.score + 0.05, 1.0)
    world.cam_a.save()
    Clip.objects.filter(id=clip.id).update(status=Clip.Status.QUEUED)
    processing.clip_process(clip_id=clip.id)
    clip.refresh_from_db()
    assert clip.alert is False
    item = ReviewItem.objects.get(clip=clip)
    assert item.reason == ReviewItem.Reason.NEAR_THRESHOLD
    assert item.distance == pytest.approx(0.05, abs=1e-6)


def test_a_clip_far_from_the_threshold_is_not_queued_unless_audited(world, video, settings):
    clip = ingest_clip(world.cam_a, video(frames=10))  # noise and a white box: no person
    processing.clip_process(clip_id=clip.id)
    assert not ReviewItem.objects.filter(clip=clip).exists()

    settings.AUDIT_SAMPLE_RATE = 1.0
    Clip.objects.filter(id=clip.id).update(status=Clip.Status.QUEUED)
    processing.clip_process(clip_id=clip.id)
    assert ReviewItem.objects.get(clip=clip).reason == ReviewItem.Reason.AUDIT_SAMPLE


def test_processing_twice_does_not_duplicate_detections(world, astronaut_clip):
    clip = ingest_clip(world.cam_a, astronaut_clip)
    processing.clip_process(clip_id=clip.id)
    clip.refresh_from_db()
    count, boxes, name = clip.detections.count(), detail.clip_boxes(clip), clip.detail
    assert processing.clip_process(clip_id=clip.id) is None  # done: left alone
    Clip.objects.filter(id=clip.id).update(status=Clip.Status.PROCESSING)  # a redelivered task
    processing.clip_process(clip_id=clip.id)
    clip.refresh_from_db()
    assert clip.detections.count() == count
    assert clip.detail == name and len(detail.clip_boxes(clip)) == len(boxes)  # the same file, rewritten


def test_a_clip_that_cannot_be_read_fails_with_its_error_and_the_task_returns(world, video, settings):
    clip = ingest_clip(world.cam_a, video())
    (Path(settings.MEDIA_ROOT) / clip.file.name).write_bytes(b"corrupted on disk")
    tasks.process_clip(str(clip.id))  # the task body, run in this process
    clip.refresh_from_db()
    assert clip.status == Clip.Status.FAILED
    assert "cannot be opened" in clip.error


def test_a_missing_file_fails_the_clip(world, video, settings):
    clip = ingest_clip(world.cam_a, video())
    (Path(settings.MEDIA_ROOT) / clip.file.name).unlink()
    tasks.process_clip(str(clip.id))
    clip.refresh_from_db()
    assert clip.status == Clip.Status.FAILED and clip.error


def test_stuck_clips_are_sent_again(world, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    hour_ago = timezone.now() - timedelta(hours=1)
    old = ClipFactory(camera=world.cam_a, status=Clip.Status.QUEUED)
    Clip.objects.filter(id=old.id).update(created_at=hour_ago, sent_at=hour_ago)
    ClipFactory(camera=world.cam_a, status=Clip.Status.QUEUED)  # fresh: its task is on its way
    unsent = ClipFactory(camera=world.cam_a, status=Clip.Status.QUEUED, sent_at=None)  # the broker was down
    sent = []
    monkeypatch.setattr(processing, "clip_enqueue", sent.append)  # the broker's edge
    assert processing.clips_requeue_stuck(older_than=timedelta(minutes=15)) == 2
    assert sorted(sent) == sorted([old.id, unsent.id])
    # Still queued at the next sweeps (a backlog): no second message until the age has passed again.
    assert processing.clips_requeue_stuck(older_than=timedelta(minutes=15)) == 0
    Clip.objects.filter(id=old.id).update(sent_at=hour_ago)
    assert processing.clips_requeue_stuck(older_than=timedelta(minutes=15)) == 1
    assert sent[-1] == old.id


def test_a_queued_clip_waits_longer_than_a_processing_one(world, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    ago = timezone.now() - timedelta(minutes=2)
    queued = ClipFactory(camera=world.cam_a, status=Clip.Status.QUEUED)
    processing_clip = ClipFactory(camera=world.cam_a, status=Clip.Status.PROCESSING)
    Clip.objects.filter(id=queued.id).update(created_at=ago, sent_at=ago)
    Clip.objects.filter(id=processing_clip.id).update(created_at=ago, sent_at=ago, started_at=ago)
    sent = []
    monkeypatch.setattr(processing, "clip_enqueue", sent.append)
    # Its worker died: processing for 2 min with a 1-min limit. Queued for 2 min: behind others.
    assert processing.clips_requeue_stuck(older_than=timedelta(minutes=1), queued_older_than=timedelta(minutes=5)) == 1
    assert sent == [processing_clip.id]

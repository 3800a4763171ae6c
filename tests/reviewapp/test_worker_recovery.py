"""Workers that come back (docs/operations.md#workers-that-come-back): the task's handling of
errors that pass, of a clip whose worker died, and the settings the recovery reads. The same
faults done for real, with a worker process, are in test_faults.py."""

import pytest
from celery.exceptions import Reject
from django import db

from reviewapp.core import errors
from reviewapp.review import processing, tasks
from reviewapp.review.models import Clip
from tests.factories import ClipFactory


@pytest.fixture(autouse=True)
def _no_pause(settings):
    settings.TRANSIENT_RETRY_SECONDS = 0


@pytest.mark.parametrize(
    "error",
    [
        db.OperationalError("connection to server at 127.0.0.1 failed: Connection refused"),
        db.InterfaceError("connection already closed"),
        __import__("kombu").exceptions.OperationalError("Error 111 connecting to 127.0.0.1:6379"),
    ],
)
def test_a_database_or_broker_error_gives_the_message_back_and_never_fails_the_clip(world, monkeypatch, error):
    clip = ClipFactory(camera=world.cam_a, status=Clip.Status.QUEUED, score=None, alert=None)

    def down(**_kwargs):
        raise error

    monkeypatch.setattr(processing, "clip_process", down)
    with pytest.raises(Reject) as rejected:
        tasks.process_clip.run(str(clip.id))
    assert rejected.value.requeue is True  # back to the queue, not acked away
    clip.refresh_from_db()
    assert clip.status == Clip.Status.QUEUED and clip.error == ""


def test_when_failing_the_clip_meets_the_database_down_too_the_message_goes_back(world, monkeypatch):
    clip = ClipFactory(camera=world.cam_a, status=Clip.Status.QUEUED)

    def broken(**_kwargs):
        raise ValueError("a bug")

    def down(**_kwargs):
        raise db.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(processing, "clip_process", broken)
    monkeypatch.setattr(processing, "clip_fail", down)
    with pytest.raises(Reject):
        tasks.process_clip.run(str(clip.id))


def test_a_transient_outside_error_puts_the_clip_back_to_queued_so_it_is_not_counted_as_a_death(
    world, monkeypatch, settings
):
    settings.CLIP_MAX_ATTEMPTS = 1
    clip = ClipFactory(camera=world.cam_a, status=Clip.Status.QUEUED)

    def storage_down(*, clip_id):
        Clip.objects.filter(id=clip_id).update(status=Clip.Status.PROCESSING, attempts=1)  # claimed
        raise errors.StorageError("S3 is slow", retryable=True)

    monkeypatch.setattr(processing, "clip_process", storage_down)
    with pytest.raises(errors.StorageError):  # autoretry_for takes it from here
        tasks._process_clip(tasks.process_clip, str(clip.id))
    clip.refresh_from_db()
    assert clip.status == Clip.Status.QUEUED and clip.attempts == 1


def test_a_clip_whose_worker_died_is_taken_again(world, video):
    from tests.reviewapp.test_pipeline import ingest_clip

    clip = ingest_clip(world.cam_a, video(frames=10))
    Clip.objects.filter(id=clip.id).update(status=Clip.Status.PROCESSING, attempts=1)  # its try died
    processing.clip_process(clip_id=clip.id)
    clip.refresh_from_db()
    assert clip.status == Clip.Status.DONE and clip.attempts == 2


def test_a_clip_that_keeps_killing_its_worker_fails_after_the_limit(world, settings):
    settings.CLIP_MAX_ATTEMPTS = 3
    clip = ClipFactory(camera=world.cam_a, status=Clip.Status.PROCESSING, attempts=3, score=None, alert=None)
    assert processing.clip_process(clip_id=clip.id) is None
    clip.refresh_from_db()
    assert clip.status == Clip.Status.FAILED and "abandoned 3 times" in clip.error


def test_a_queued_clip_is_taken_whatever_its_attempts(world, settings, video):
    from tests.reviewapp.test_pipeline import ingest_clip

    settings.CLIP_MAX_ATTEMPTS = 2
    clip = ingest_clip(world.cam_a, video(frames=10))
    Clip.objects.filter(id=clip.id).update(attempts=5)  # tries that ended on errors that passed
    processing.clip_process(clip_id=clip.id)
    clip.refresh_from_db()
    assert clip.status == Clip.Status.DONE


def test_the_stuck_sweep_reads_its_age_when_it_runs(world, settings, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    clip = ClipFactory(camera=world.cam_a, status=Clip.Status.PROCESSING)
    ago = timezone.now() - timedelta(seconds=30)
    Clip.objects.filter(id=clip.id).update(started_at=ago, sent_at=ago)
    sent = []
    monkeypatch.setattr(processing, "clip_enqueue", sent.append)
    settings.STUCK_CLIP_SECONDS = 60
    assert tasks.requeue_stuck_clips.run() == 0
    settings.STUCK_CLIP_SECONDS = 20
    assert tasks.requeue_stuck_clips.run() == 1 and sent == [clip.id]


def test_the_worker_settings_fit_a_clip():
    from reviewapp.project.celery import app

    assert app.conf.worker_proc_alive_timeout >= 60  # the detector's load (torch.compile: 20-45 s) fits
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert tasks.process_clip.reject_on_worker_lost is True
    entries = app.conf.beat_schedule
    assert entries["send-due-alerts"]["task"] == "reviewapp.tasks.send_due_alerts"
    assert (
        entries["requeue-stuck-clips"]["schedule"] == 30.0
    )  # STUCK_CLIP_SWEEP_SECONDS: a stuck clip within 2 minutes (test_clip_limits.py)

"""Celery tasks of the clip pipeline: a thin interface. They take ids, re-fetch, and call one service.

Task names are the ones queued messages and beat entries carry (`reviewapp.tasks.*`): kept
explicit so a module move never strands a message in flight."""

import logging
from datetime import timedelta

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import celeryd_after_setup, worker_process_init
from django.conf import settings
from django.utils import timezone

from inference.detector import DetectorUnavailable, load_detector, set_threads
from reviewapp.core import errors, logs, metrics
from reviewapp.review import detail, preview, processing

log = logging.getLogger(__name__)
logs.connect_celery_signals()
metrics.connect_celery_signals()


_serves_inference = True


@celeryd_after_setup.connect
def note_queues(sender, instance, **_kwargs) -> None:
    # Runs in the worker's main process before it forks: a worker that does not consume the
    # inference queue does not need the model in memory.
    global _serves_inference
    _serves_inference = "inference" in instance.app.amqp.queues.consume_from


@worker_process_init.connect
def load_model(**_kwargs) -> None:
    """Load the detector once per worker process, before the first clip, so no clip pays for it.
    A missing model is logged, not fatal: the clips that need it fail with the reason."""
    if not _serves_inference:
        return
    set_threads(settings.TORCH_THREADS)  # before the detector is built: its runtime sizes itself from it
    try:
        load_detector(settings.DETECTOR)
    except DetectorUnavailable as exc:
        log.error("detector %s unavailable: %s", settings.DETECTOR, exc)
    if settings.VERIFIER:
        from inference.verifier import VerifierUnavailable, load_verifier

        try:
            load_verifier(settings.VERIFIER, tracking_uri=settings.MLFLOW_TRACKING_URI)
        except VerifierUnavailable as exc:
            log.error("verifier unavailable: %s", exc)


@shared_task(
    name="reviewapp.tasks.process_clip",
    bind=True,
    acks_late=True,
    max_retries=5,
    autoretry_for=(errors.OutsideError,),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
)
def process_clip(self, clip_id: str) -> None:
    with logs.log_context(clip_id=clip_id):
        _process_clip(self, clip_id)


def _process_clip(self, clip_id: str) -> None:
    try:
        processing.clip_process(clip_id=clip_id)
    except errors.OutsideError as exc:
        if not exc.retryable:
            processing.clip_fail(clip_id=clip_id, error=f"{exc.service}: {exc}")
            return
        if self.request.retries >= self.max_retries:
            processing.clip_fail(clip_id=clip_id, error="gave up after repeated transient errors")
            return
        raise
    except SoftTimeLimitExceeded:
        processing.clip_fail(
            clip_id=clip_id, error=f"processing took longer than {settings.CELERY_TASK_SOFT_TIME_LIMIT} s"
        )
    except Exception as exc:  # a clip that cannot be processed must not stop the worker
        log.exception("clip %s cannot be processed", clip_id)
        processing.clip_fail(clip_id=clip_id, error=f"{type(exc).__name__}: {exc}")


@shared_task(name="reviewapp.tasks.requeue_stuck_clips", acks_late=True, soft_time_limit=120, time_limit=150)
def requeue_stuck_clips() -> int:
    count = processing.clips_requeue_stuck(older_than=timedelta(seconds=settings.STUCK_CLIP_SECONDS))
    if count:
        log.warning("requeued %d stuck clip(s)", count)
    return count


@shared_task(
    name="reviewapp.tasks.make_preview",
    acks_late=True,
    # A crash inside the encoder (native code) loses this one preview instead of looping on it.
    reject_on_worker_lost=False,
    autoretry_for=(errors.OutsideError,),  # the clip could not be read from storage
    max_retries=3,
    retry_backoff=10,
    soft_time_limit=240,
    time_limit=300,
)
def make_preview(clip_id: str, force: bool = False) -> str:
    with logs.log_context(clip_id=clip_id):
        return preview.clip_preview_make(clip_id=clip_id, force=force)


@shared_task(name="reviewapp.tasks.expire_clip_details", acks_late=True, soft_time_limit=240, time_limit=300)
def expire_clip_details() -> int:
    return detail.details_expire(now=timezone.now())

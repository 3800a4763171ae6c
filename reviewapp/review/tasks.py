"""Celery tasks of the clip pipeline: a thin interface. They take ids, re-fetch, and call one service.

Task names are the ones queued messages and beat entries carry (`reviewapp.tasks.*`): kept
explicit so a module move never strands a message in flight."""

import contextlib
import logging
import time
from datetime import timedelta

import kombu.exceptions
from celery import shared_task
from celery.exceptions import Reject, SoftTimeLimitExceeded
from celery.signals import celeryd_after_setup, worker_process_init
from django import db
from django.conf import settings
from django.utils import timezone

from inference.detector import DetectorUnavailable, load_detector, set_threads
from reviewapp.core import errors, logs, metrics
from reviewapp.review import alerts, detail, preview, processing, prune

log = logging.getLogger(__name__)
logs.connect_celery_signals()
metrics.connect_celery_signals()


_serves_inference = True

# Errors of the database or the broker themselves (a restart, a dropped connection, a lock):
# they say nothing about the clip, so they never fail it, and its message is never acked away.
TRANSIENT_ERRORS = (db.OperationalError, db.InterfaceError, kombu.exceptions.OperationalError)


def _requeue_later(exc: BaseException) -> None:
    """Give the message back to the broker after a pause (raises Reject): taken again, by this
    worker or another, once the database or the broker answers."""
    log.warning("transient %s, the message goes back to the queue: %s", type(exc).__name__, exc)
    # A connection the restart broke is not reused (closing a dead one may fail too).
    for connection in db.connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            with contextlib.suppress(Exception):
                connection.close_if_unusable_or_obsolete()
    time.sleep(settings.TRANSIENT_RETRY_SECONDS)
    raise Reject(exc, requeue=True) from exc


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
    try:  # the second look's detector too (SECOND_LOOK): no uncertain clip pays for loading it
        processing.clip_second_look()
    except (ValueError, DetectorUnavailable) as exc:
        log.error("second look %s unavailable: %s", settings.SECOND_LOOK, exc)
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
    # A pool process killed mid-clip (kill -9, out of memory) gives the message back at once;
    # the clip's attempts count such deaths (processing._clip_claim).
    reject_on_worker_lost=True,
    # Its own limits, not the global ones: STUCK_CLIP_SECONDS follows them (settings).
    soft_time_limit=settings.CLIP_TASK_SOFT_TIME_LIMIT,
    time_limit=settings.CLIP_TASK_TIME_LIMIT,
    max_retries=5,
    autoretry_for=(errors.OutsideError,),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
)
def process_clip(self, clip_id: str) -> None:
    with logs.log_context(clip_id=clip_id):
        try:
            _process_clip(self, clip_id)
        except TRANSIENT_ERRORS as exc:  # from the processing, or from clip_fail itself
            _requeue_later(exc)


def _process_clip(self, clip_id: str) -> None:
    try:
        processing.clip_process(clip_id=clip_id)
    except TRANSIENT_ERRORS:
        raise
    except errors.OutsideError as exc:
        if not exc.retryable:
            processing.clip_fail(clip_id=clip_id, error=f"{exc.service}: {exc}")
            return
        if self.request.retries >= self.max_retries:
            processing.clip_fail(clip_id=clip_id, error="gave up after repeated transient errors")
            return
        processing.clip_release(clip_id=clip_id)
        raise
    except SoftTimeLimitExceeded:
        processing.clip_fail(
            clip_id=clip_id, error=f"processing took longer than {settings.CLIP_TASK_SOFT_TIME_LIMIT} s"
        )
    except Exception as exc:  # a clip that cannot be processed must not stop the worker
        log.exception("clip %s cannot be processed", clip_id)
        processing.clip_fail(clip_id=clip_id, error=f"{type(exc).__name__}: {exc}")


@shared_task(
    name="reviewapp.tasks.alert_send", bind=True, acks_late=True, max_retries=None, soft_time_limit=60, time_limit=90
)
def alert_send(self, clip_id: str) -> None:
    """Publish one clip's alert (reviewapp.review.alerts): retried with backoff while SNS
    fails for a reason that can pass, without limit — the sweep covers a chain that breaks."""
    with logs.log_context(clip_id=clip_id):
        try:
            alerts.alert_send(clip_id=clip_id)
        except alerts.AlertRetryLater as exc:
            raise self.retry(countdown=exc.delay, exc=exc) from exc
        except TRANSIENT_ERRORS as exc:
            _requeue_later(exc)


@shared_task(name="reviewapp.tasks.send_due_alerts", acks_late=True, soft_time_limit=60, time_limit=90)
def send_due_alerts() -> int:
    """The beat sweep of the outbox: anything pending whose try is due is sent again."""
    count = alerts.alerts_send_due()
    if count:
        log.warning("sending %d pending alert(s) again", count)
    return count


@shared_task(name="reviewapp.tasks.requeue_stuck_clips", acks_late=True, soft_time_limit=120, time_limit=150)
def requeue_stuck_clips() -> int:
    count = processing.clips_requeue_stuck(
        older_than=timedelta(seconds=settings.STUCK_CLIP_SECONDS),
        queued_older_than=timedelta(seconds=settings.STUCK_QUEUED_CLIP_SECONDS),
    )
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


# The run stops itself after CLIP_PRUNE_BUDGET_SECONDS (10 s); the limits only catch a stuck batch.
@shared_task(name="reviewapp.tasks.prune_clips", acks_late=True, soft_time_limit=120, time_limit=150)
def prune_clips() -> int:
    return prune.clips_prune(now=timezone.now()).clips

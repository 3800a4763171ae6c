"""Clips from the bucket, by event: the consumer of the S3 `ObjectCreated` notifications that the
clip bucket sends to an SQS queue (`CLIP_EVENTS_QUEUE_URL`), run by
`python manage.py consume_clip_events`.

Each new object under `clips/<camera>/` becomes a clip by reference
(reviewapp.review.ingest_reference): the object stays where it landed, no bytes go through the
web app. At-least-once safe: a message is deleted only after its clip row is committed and
queued for detection, and an event seen again (SQS redelivers; the consumer may die between the
commit and the delete) finds the clip by its external_id, `s3://<bucket>/<key>`, and makes no
second one. An object that cannot be a clip (not a video, too big or too long, an unknown
camera, a key outside the layout) is logged with its key, counted in
`vigia_clip_events_rejected_total{reason}`, and its message is moved to the dead-letter queue
at once. Anything else that fails (the database, the broker, S3 unreachable) leaves the message
in the queue: SQS shows it again after its visibility timeout, and its redrive policy moves it
to the dead-letter queue after `maxReceiveCount` tries. S3's `s3:TestEvent` is deleted quietly.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote_plus

from django.db import close_old_connections, connection
from django.utils.dateparse import parse_datetime

from reviewapp.core import logs, metrics
from reviewapp.core.errors import ApplicationError, OutsideError
from reviewapp.review import sqs
from reviewapp.review.ingest_reference import OwnObject, camera_name_from_key, clip_ingest_reference
from reviewapp.review.models import Camera, Clip

log = logging.getLogger(__name__)

# Test hook, read only by tests/reviewapp/test_events.py: seconds to sleep after a clip is
# committed and queued and before its message is deleted, so the test can kill the consumer there.
PAUSE_BEFORE_DELETE_ENV = "VIGIA_TEST_EVENTS_PAUSE_BEFORE_DELETE"


class BadMessage(ValueError):
    """The message is not an S3 event notification."""


@dataclass(frozen=True)
class ObjectCreated:
    bucket: str
    key: str  # decoded: events carry keys URL-encoded (spaces as "+")
    event_time: datetime | None


def parse_message(body: str) -> list[ObjectCreated] | None:
    """The ObjectCreated records of an S3 notification (direct, or wrapped by SNS); None for S3's
    `s3:TestEvent`. Other records (a removal) are skipped. Raises BadMessage."""
    try:
        doc = json.loads(body)
        if isinstance(doc, dict) and doc.get("Type") == "Notification" and "Message" in doc:
            doc = json.loads(doc["Message"])  # S3 -> SNS -> SQS without raw delivery
    except (TypeError, ValueError) as exc:
        raise BadMessage(f"not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise BadMessage("not an S3 event")
    if doc.get("Event") == "s3:TestEvent":
        return None
    records = doc.get("Records")
    if not isinstance(records, list):
        raise BadMessage("no Records")
    try:
        return [
            ObjectCreated(
                bucket=r["s3"]["bucket"]["name"],
                key=unquote_plus(r["s3"]["object"]["key"]),
                event_time=_parse_time(r.get("eventTime")),
            )
            for r in records
            if str(r.get("eventName", "")).startswith("ObjectCreated:")
        ]
    except (KeyError, TypeError, AttributeError) as exc:
        raise BadMessage(f"a record lacks its bucket or key: {exc!r}") from exc


def _parse_time(value) -> datetime | None:
    try:
        return parse_datetime(value) if value else None
    except (TypeError, ValueError):
        return None


def event_ingest(event: ObjectCreated) -> tuple[Clip, bool]:
    """The clip of one ObjectCreated event. Raises ApplicationError when it makes no clip."""
    name = camera_name_from_key(event.key)
    if name is None:
        raise ApplicationError(f"{event.key!r} is not under clips/<camera>/", code="bad_key")
    camera = Camera.objects.filter(name=name).select_related("customer").first()
    if camera is None:
        raise ApplicationError(f"unknown camera {name!r}", code="unknown_camera")
    return clip_ingest_reference(
        camera=camera, bucket=event.bucket, key=event.key, fallback_time=event.event_time, skip_own=True
    )


def message_handle(*, queue_url: str, message: sqs.Message) -> str:
    """Ingest one message's objects, then delete it (or move it to the dead-letter queue).
    Returns the outcome: ingested, duplicate, rejected, retry, test or ignored (nothing to
    ingest: only Vigia's own objects, or no ObjectCreated record)."""
    try:
        events = parse_message(message.body)
    except BadMessage as exc:
        return _reject(queue_url, message, [("-", ApplicationError(str(exc), code="bad_message"))])
    if events is None:
        sqs.delete(queue_url=queue_url, message=message)
        return _counted("test")
    created, found, rejected = False, False, []
    for event in events:
        with logs.log_context(key=event.key):
            try:
                clip, new = event_ingest(event)
            except OwnObject:
                continue  # written by Vigia (an upload, a clip's detail): already known
            except ApplicationError as exc:
                rejected.append((event.key, exc))
                continue
            except OutsideError as exc:
                if exc.retryable:
                    return _retry(message, event, exc)
                rejected.append((event.key, ApplicationError(str(exc), code="unreadable")))
                continue
            except Exception as exc:  # the database, the broker: SQS shows the message again
                log.exception("event for %s failed", event.key)
                return _retry(message, event, exc)
            found = True
            created = created or new
            log.info("event for %s: clip %s (%s)", event.key, clip.id, "new" if new else "already ingested")
    if rejected:
        return _reject(queue_url, message, rejected)
    _pause_for_tests()
    sqs.delete(queue_url=queue_url, message=message)
    return _counted("ingested" if created else "duplicate" if found else "ignored")


def _counted(outcome: str) -> str:
    metrics.clip_event(outcome)
    return outcome


def _retry(message: sqs.Message, event: ObjectCreated, exc: Exception) -> str:
    log.warning(
        "event for %s not ingested (try %d, the queue will show it again): %s: %s",
        event.key,
        message.receive_count,
        type(exc).__name__,
        exc,
    )
    return _counted("retry")


def _reject(queue_url: str, message: sqs.Message, rejected: list[tuple[str, ApplicationError]]) -> str:
    for key, exc in rejected:
        log.warning("event for %s makes no clip (%s): %s", key, exc.code, exc.message)
        metrics.clip_event_rejected(exc.code)
    key, first = rejected[0]
    moved = sqs.dead_letter(queue_url=queue_url, message=message, reason=first.code, detail=f"{key}: {first.message}")
    if not moved:
        log.error("no dead-letter queue on %s: the event for %s is dropped (%s)", queue_url, key, first.code)
    return _counted("rejected")


def _pause_for_tests() -> None:
    pause = float(os.environ.get(PAUSE_BEFORE_DELETE_ENV) or 0)
    if pause:
        log.warning("clip committed and queued; pausing %.0f s before the delete (%s)", pause, PAUSE_BEFORE_DELETE_ENV)
        time.sleep(pause)


def consume(
    *, queue_url: str, stop: threading.Event, wait_seconds: int = 20, batches: int | None = None, concurrency: int = 1
) -> int:
    """Long-poll the queue and handle its messages until `stop` is set (or after `batches` polls),
    `concurrency` at a time (threads: the work is mostly waiting on S3 and the database).
    Returns the number of messages handled. A message in hand when `stop` is set is finished;
    the rest of its batch comes back after the visibility timeout."""
    pool = ThreadPoolExecutor(concurrency, thread_name_prefix="clip-events") if concurrency > 1 else None
    handled, polls, backoff = 0, 0, 1.0
    try:
        while not stop.is_set() and (batches is None or polls < batches):
            polls += 1
            if not connection.in_atomic_block:  # (a test's transaction)
                close_old_connections()  # a long-lived process: drop connections the database closed
            try:
                messages = sqs.receive(queue_url=queue_url, wait_seconds=wait_seconds)
            except sqs.SQSError as exc:
                log.error("cannot poll %s (again in %.0f s): %s", queue_url, backoff, exc)
                stop.wait(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            backoff = 1.0
            if pool is None:
                handled += sum(_handle_one(queue_url, m, stop) for m in messages)
            else:
                handled += sum(pool.map(lambda m: _handle_one(queue_url, m, stop, in_pool=True), messages))
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return handled


def _handle_one(queue_url: str, message: sqs.Message, stop: threading.Event, in_pool: bool = False) -> int:
    if stop.is_set():
        return 0
    try:
        message_handle(queue_url=queue_url, message=message)
    except sqs.SQSError as exc:  # the delete or the move failed: the message comes back
        log.error("message %s left in the queue: %s", message.id, exc)
    finally:
        if in_pool:
            close_old_connections()  # this thread's own connection
    return 1

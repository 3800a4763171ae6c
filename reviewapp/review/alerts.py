"""Alerts to customers, through an outbox (docs/operations.md#alerts).

The worker decides a clip and, in the same commit, writes its `AlertOutbox` row (`alert_record`):
the decision and "this alert is owed" are one fact, so no crash, outage or lost task between
the commit and the publish can drop the alert. Sending is a step of its own (`alert_send`, the
task `reviewapp.tasks.alert_send`), queued once that commit is done, retried with exponential
backoff while SNS fails for a reason that can pass, and swept by beat (`alerts_send_due`) for
anything pending whose try is due — which covers a worker killed after the commit and a broker
that was down when the send was queued.

Exactly once normally: a try first claims the row with a conditional UPDATE that pushes its
next try one lease ahead, so two senders never publish it at the same time. At least once under
any fault: a sender that dies after SNS accepted the message but before the row says `sent`
leaves it pending, and it is published again when the lease runs out — with the clip id as the
message's deduplication key (SNS FIFO drops the repeat; subscribers of a standard topic can).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from reviewapp.core import metrics
from reviewapp.review import sns
from reviewapp.review.models import AlertOutbox, Clip

log = logging.getLogger(__name__)

ALERT_SEND_TASK = "reviewapp.tasks.alert_send"  # reviewapp.review.tasks.alert_send


class AlertRetryLater(Exception):
    """The publish failed for a reason that can pass; the row says when to try again."""

    def __init__(self, message: str, *, delay: float):
        super().__init__(message)
        self.delay = delay


def alert_record(*, clip: Clip) -> AlertOutbox:
    """The clip's alert, owed: call inside the transaction that stores the clip's result. The
    send is queued once that transaction commits. A clip processed again keeps its one row."""
    outbox, created = AlertOutbox.objects.get_or_create(clip=clip, defaults={"next_attempt_at": timezone.now()})
    if created:
        # robust: a broker that is down now must not undo or fail the commit; the sweep sends it.
        transaction.on_commit(lambda: alert_enqueue(clip.id), robust=True)
    return outbox


def alert_enqueue(clip_id, *, countdown: float | None = None) -> None:
    """Queue a send, by the task's name: services never import their tasks."""
    current_app.send_task(ALERT_SEND_TASK, args=[str(clip_id)], countdown=countdown)


def retry_delay(attempts: int) -> float:
    """Exponential backoff after the `attempts`-th failed try: 5 s, 10 s, 20 s... capped."""
    return min(settings.ALERT_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), settings.ALERT_RETRY_MAX_SECONDS)


def alert_message(clip: Clip) -> dict:
    return {
        "clip_id": str(clip.id),
        "camera": clip.camera.name,
        "customer": clip.camera.customer.name,
        "recorded_at": clip.recorded_at.isoformat(),
        "score": clip.score,
        "model_version": clip.model_version,
    }


def _claim(clip_id) -> AlertOutbox | None:
    """The row, claimed for one try (its next try pushed a lease ahead); None when it is sent,
    failed, not due, or another sender holds it."""
    now = timezone.now()
    claimed = AlertOutbox.objects.filter(
        clip_id=clip_id, status=AlertOutbox.Status.PENDING, next_attempt_at__lte=now
    ).update(next_attempt_at=now + timedelta(seconds=settings.ALERT_SEND_LEASE_SECONDS), attempts=F("attempts") + 1)
    if not claimed:
        return None
    return AlertOutbox.objects.select_related("clip__camera__customer").get(clip_id=clip_id)


def alert_send(*, clip_id) -> bool:
    """Publish the clip's alert if it is owed and due. True when this call sent it.

    Raises AlertRetryLater on an error that can pass (the row is due again after the backoff);
    a permanent error marks the row failed, with the error, for an operator to send again."""
    outbox = _claim(clip_id)
    if outbox is None:
        return False
    clip = outbox.clip
    try:
        message_id = sns.publish_alert(message=alert_message(clip), group_id=clip.camera.name, dedup_id=str(clip.id))
    except sns.SNSError as exc:
        metrics.alert_error(retryable=exc.retryable)
        return _alert_failed(outbox, exc)
    now = timezone.now()
    with transaction.atomic():
        AlertOutbox.objects.filter(id=outbox.id).update(
            status=AlertOutbox.Status.SENT, sent_at=now, last_error="", message_id=message_id or ""
        )
        Clip.objects.filter(id=clip.id, alert_sent_at=None).update(alert_sent_at=now)
    log.info("alert for clip %s sent (try %d)", clip.id, outbox.attempts)
    metrics.alert_sent(clip.camera)
    return True


def _alert_failed(outbox: AlertOutbox, exc: sns.SNSError) -> bool:
    if not exc.retryable:
        AlertOutbox.objects.filter(id=outbox.id).update(status=AlertOutbox.Status.FAILED, last_error=str(exc)[:2000])
        log.error("alert for clip %s not sent, permanently: %s", outbox.clip_id, exc)
        return False
    delay = retry_delay(outbox.attempts)
    AlertOutbox.objects.filter(id=outbox.id, status=AlertOutbox.Status.PENDING).update(
        next_attempt_at=timezone.now() + timedelta(seconds=delay), last_error=str(exc)[:2000]
    )
    log.warning(
        "alert for clip %s not sent yet (try %d), again in %.0f s: %s", outbox.clip_id, outbox.attempts, delay, exc
    )
    raise AlertRetryLater(str(exc), delay=delay) from exc


def alerts_send_due(*, limit: int = 500) -> int:
    """Queue a send for every pending alert whose try is due (the beat sweep). How many."""
    due = list(
        AlertOutbox.objects.filter(status=AlertOutbox.Status.PENDING, next_attempt_at__lte=timezone.now())
        .order_by("next_attempt_at")
        .values_list("clip_id", flat=True)[:limit]
    )
    for clip_id in due:
        alert_enqueue(clip_id)
    return len(due)


def alerts_send_again(*, ids) -> int:
    """An operator's "send again": failed (or pending) alerts, due now. How many."""
    now = timezone.now()
    rows = AlertOutbox.objects.filter(Q(id__in=ids), ~Q(status=AlertOutbox.Status.SENT))
    clip_ids = list(rows.values_list("clip_id", flat=True))
    rows.update(status=AlertOutbox.Status.PENDING, next_attempt_at=now)
    for clip_id in clip_ids:
        transaction.on_commit(lambda clip_id=clip_id: alert_enqueue(clip_id), robust=True)
    return len(clip_ids)

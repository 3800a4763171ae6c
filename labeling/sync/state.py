"""The sync's bookkeeping: one SyncState row per (object, destination), claimed with a lease
(a conditional UPDATE, so concurrent workers get disjoint rows) and settled as done, pending with
backoff, or failed. A worker killed mid-batch leaves its rows leased and pending: the lease runs
out and the next tick sends them again (every send is idempotent).
"""

from __future__ import annotations

import logging
import random
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from labeling.models import SyncState
from labeling.sync import label_studio as ls

log = logging.getLogger(__name__)


D = SyncState.Destination


S = SyncState.Status


# Longer than the sync task's hard time limit: a lease still running means its worker is alive.
LEASE = timedelta(seconds=300)


BACKOFF_BASE = 5.0


BACKOFF_MAX = 300.0


def _free(now) -> Q:
    return Q(leased_until__isnull=True) | Q(leased_until__lt=now)


def claim(destination: str, *, limit: int) -> tuple[str, list[SyncState]]:
    now = timezone.now()
    due = SyncState.objects.filter(_free(now), destination=destination, status=S.PENDING, next_attempt_at__lte=now)
    ids = list(due.order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit])
    token = ls.new_uuid()
    if ids:
        due.filter(id__in=ids).update(lease=token, leased_until=now + LEASE, attempts=F("attempts") + 1)
    return token, list(SyncState.objects.filter(lease=token).order_by("id"))


def mark_done(row: SyncState, token: str, *, sent_version: datetime, remote_id: str | None = None) -> None:
    # Done only if nothing newer was asked for meanwhile; else it stays pending for the next tick.
    rows = SyncState.objects.filter(id=row.id, lease=token)
    # updated_at by hand: an update() skips auto_now, and a task that became done moves the
    # annotations' discovery window (labeling.sync.discovery.recent_reviews).
    common = {"lease": "", "leased_until": None, "last_error": "", "sent_version": sent_version, "attempts": 0,
              "updated_at": timezone.now()}  # fmt: skip
    if remote_id is not None:
        common["remote_id"] = remote_id
    if not rows.filter(version__lte=sent_version).update(status=S.DONE, **common):
        rows.update(status=S.PENDING, next_attempt_at=timezone.now(), **common)


def backoff(attempts: int) -> float:
    return min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)


def mark_failed(rows: list[SyncState], token: str, *, error: str, retryable: bool) -> None:
    now = timezone.now()
    with transaction.atomic():
        for row in rows:
            attempts = row.attempts  # already counted by the claim
            give_up = not retryable or attempts >= settings.SYNC_MAX_ATTEMPTS
            SyncState.objects.filter(id=row.id, lease=token).update(
                status=S.FAILED if give_up else S.PENDING,
                last_error=error[:2000],
                lease="",
                leased_until=None,
                next_attempt_at=now + timedelta(seconds=backoff(attempts)),
            )
    log.warning(
        "%d %s row(s) %s: %s",
        len(rows),
        rows[0].destination if rows else "",
        "failed" if not retryable else "to retry",
        error,
    )


def release(rows: list[SyncState], token: str) -> None:
    SyncState.objects.filter(id__in=[r.id for r in rows], lease=token).update(lease="", leased_until=None)


def sync_counts() -> dict[str, dict[str, int]]:
    """{destination: {status: rows}}: the count anyone (admin, metrics, a health check) can ask."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for row in SyncState.objects.values("destination", "status").annotate(n=Count("id")):
        out[row["destination"]][row["status"]] = row["n"]
    return dict(out)


def sync_retry_failed(*, ids: list[int] | None = None) -> int:
    """An operator's "try again" for failed rows (after fixing the cause)."""
    qs = SyncState.objects.filter(status=S.FAILED)
    if ids is not None:
        qs = qs.filter(id__in=ids)
    return qs.update(status=S.PENDING, attempts=0, next_attempt_at=timezone.now())

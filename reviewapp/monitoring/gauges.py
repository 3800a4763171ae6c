"""The gauges /metrics reads from the database (and the broker) at scrape time: the review
queue, clips by status, the alert outbox, reviews, drift, suppression rules, the broker's queues. Registered with
`metrics.register_db_collector` when the app is ready (reviewapp.apps)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, timedelta

from django.conf import settings
from django.db.models import Count, F, Min, Q, Sum
from django.utils import timezone
from prometheus_client.core import Metric

from reviewapp.core import metrics
from reviewapp.core.metrics import camera_group_expression, cap_groups, gauge
from reviewapp.monitoring.models import CameraDrift
from reviewapp.review import rollups
from reviewapp.review.models import CLIP_NOT_DONE, AlertOutbox, Clip, FalseAlertReport, PruneCursor, Review, ReviewItem
from reviewapp.review.rollup_models import AnalysisCameraDay, AnalysisCell
from reviewapp.tuning.models import SuppressionRule

log = logging.getLogger(__name__)


def _review_queue() -> Iterable[Metric]:

    now = timezone.now()
    depth, oldest = {}, {}
    for row in (
        ReviewItem.objects.filter(state=ReviewItem.State.OPEN)
        .values("reason")
        .annotate(n=Count("id"), first=Min("created_at"))
    ):
        depth[(row["reason"],)] = row["n"]
        oldest[(row["reason"],)] = (now - row["first"]).total_seconds()
    for reason in ReviewItem.Reason.values:  # a reason with no items shows 0, not a gap
        depth.setdefault((reason,), 0)
        oldest.setdefault((reason,), 0)
    claimed = ReviewItem.objects.filter(state=ReviewItem.State.OPEN, claimed_until__gte=now).count()
    yield gauge("vigia_review_queue_depth", "Open review items.", ["reason"], depth)
    yield gauge(
        "vigia_review_queue_oldest_seconds", "Age of the oldest open review item (0: none).", ["reason"], oldest
    )
    yield gauge("vigia_review_queue_claimed", "Open review items a reviewer holds now.", [], {(): claimed})


def _clips() -> Iterable[Metric]:

    now = timezone.now()
    since = now - timedelta(hours=settings.METRICS_WINDOW_HOURS)
    yield gauge(
        "vigia_clips_recent",
        f"Clips recorded in the last {settings.METRICS_WINDOW_HOURS} h, by status "
        "(done ones from the top of the hour the window starts in).",
        ["camera_group", "status"],
        cap_groups(_recent_clips(since)),
    )
    # The backlog over all time: a clip stuck for days must still show.
    backlog = Clip.objects.filter(status__in=[Clip.Status.QUEUED, Clip.Status.PROCESSING])
    counts = {(s,): 0 for s in (Clip.Status.QUEUED, Clip.Status.PROCESSING)}
    for r in backlog.values("status").annotate(n=Count("id")).order_by():
        counts[(r["status"],)] = r["n"]
    yield gauge("vigia_clips_backlog", "Clips waiting for or in the detector.", ["status"], counts)
    first = backlog.filter(status=Clip.Status.QUEUED).aggregate(first=Min("created_at"))["first"]
    yield gauge(
        "vigia_clips_oldest_queued_seconds",
        "Age of the oldest queued clip (0: none).",
        [],
        {(): (now - first).total_seconds() if first else 0},
    )
    if settings.CLIP_RETENTION_DAYS:  # the retention's sweep (reviewapp.review.prune) keeps one row
        last = PruneCursor.objects.filter(name="clips").values_list("updated_at", flat=True).first()
        yield gauge(
            "vigia_clips_prune_last_run_seconds",
            "Seconds since the retention (prune_clips) last ran (-1: never).",
            [],
            {(): (now - last).total_seconds() if last else -1},
        )


def _recent_clips(since) -> dict[tuple[str, str], int]:
    """{(camera group, status): clips recorded since `since`}. The done ones — nearly all, a
    third of a million a day at 5,000 cameras — are summed from the error analysis's rollups per
    camera and UTC hour (a few thousand rows, from the top of the hour `since` is in); the others
    (queued, processing, failed: few) are read from the clips by their status. Before the rollups
    are built, every clip is counted from the clips."""
    if rollups.rollups_missing():
        return _count_by_group_and_status(Clip.objects.filter(recorded_at__gte=since))
    # The clip_not_done index (an exclude of "done" read the whole window: 0.2 s at 10 M).
    rows = _count_by_group_and_status(Clip.objects.filter(status__in=CLIP_NOT_DONE, recorded_at__gte=since))
    hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    for group, n in _done_since(hour).items():
        if n:
            rows[(group, Clip.Status.DONE)] = n
    return rows


def _done_since(hour) -> dict[str, int]:
    """{camera group: clips done from `hour` (a UTC hour) on}, from the rollups. A camera's day
    row (AnalysisCameraDay) is the sum of its hours' cells (rollups.py keeps both in the same
    transactions), so at most 12 hours of cells are read, not 24 (94,000 cells at 10 M clips):
    before noon the whole day of `hour` minus its cells before `hour`, after noon the cells of
    the rest of that day; then the days after it."""
    day = hour.replace(hour=0)
    next_day = day + timedelta(days=1)
    if hour.hour < 12:
        parts = [
            (AnalysisCameraDay.objects.filter(day__gte=day.date()), 1),
            (AnalysisCell.objects.filter(hour__gte=day, hour__lt=hour), -1),
        ]
    else:
        parts = [
            (AnalysisCell.objects.filter(hour__gte=hour, hour__lt=next_day), 1),
            (AnalysisCameraDay.objects.filter(day__gte=next_day.date()), 1),
        ]
    done: dict[str, int] = {}
    for rows, sign in parts:
        for r in rows.values(group=camera_group_expression()).annotate(n=Sum("clips")).order_by():
            done[r["group"]] = done.get(r["group"], 0) + sign * (r["n"] or 0)
    return {group: n for group, n in done.items() if n}


def _count_by_group_and_status(clips) -> dict[tuple[str, str], int]:
    # By recording time: the clip_recorded_at index keeps this a range read on a large table.
    return {
        (r["group"], r["status"]): r["n"]
        for r in clips.values("status", group=camera_group_expression()).annotate(n=Count("id")).order_by()
    }


def _alerts() -> Iterable[Metric]:
    """The alert outbox (reviewapp.review.alerts): alerts owed and not sent yet, and how long the
    oldest has waited — the one number that says a customer is not being told."""
    now = timezone.now()
    rows = (
        # IN, not NOT IN sent: the alert_outbox_due index reads the few unsent rows, not every alert.
        AlertOutbox.objects.filter(status__in=[AlertOutbox.Status.PENDING, AlertOutbox.Status.FAILED])
        .values("status")
        .annotate(n=Count("id"), first=Min("created_at"))
    )
    counts = dict.fromkeys((AlertOutbox.Status.PENDING, AlertOutbox.Status.FAILED), 0)
    first = None
    for row in rows.order_by():
        counts[row["status"]] = row["n"]
        if row["status"] == AlertOutbox.Status.PENDING:
            first = row["first"]
    yield gauge("vigia_alerts_pending", "Alerts decided and not sent yet.", [], {(): counts["pending"]})
    yield gauge(
        "vigia_alerts_oldest_pending_seconds",
        "Age of the oldest alert not sent yet (0: none).",
        [],
        {(): (now - first).total_seconds() if first else 0},
    )
    yield gauge(
        "vigia_alerts_failed", "Alerts SNS refused for good (sent again from the admin).", [], {(): counts["failed"]}
    )


def _reviews() -> Iterable[Metric]:

    since = timezone.now() - timedelta(hours=settings.METRICS_WINDOW_HOURS)
    per_reviewer = {
        (r["reviewer__username"], r["verdict"]): r["n"]
        for r in Review.objects.filter(created_at__gte=since)
        .values("reviewer__username", "verdict")
        .annotate(n=Count("id"))
        .order_by()
    }
    yield gauge(
        "vigia_reviewer_decisions_recent",
        f"Decisions per reviewer in the last {settings.METRICS_WINDOW_HOURS} h.",
        ["reviewer", "verdict"],
        per_reviewer,
    )
    reports = {
        (r["group"],): r["n"]
        for r in FalseAlertReport.objects.filter(created_at__gte=since)
        .values(group=camera_group_expression("clip__camera__"))
        .annotate(n=Count("id"))
        .order_by()
    }
    yield gauge(
        "vigia_false_alert_reports_recent",
        f"Customer false-alert reports in the last {settings.METRICS_WINDOW_HOURS} h.",
        ["camera_group"],
        cap_groups(reports),
    )


def _drift() -> Iterable[Metric]:

    flagged = {
        (r["group"],): r["n"]
        for r in CameraDrift.objects.filter(flagged=True)
        .values(group=camera_group_expression())
        .annotate(n=Count("id"))
        .order_by()
    }
    yield gauge(
        "vigia_cameras_drifting",
        "Cameras whose scores drifted from their baseline.",
        ["camera_group"],
        cap_groups(flagged),
    )
    last = CameraDrift.objects.aggregate(last=Min("checked_at"))["last"]
    yield gauge(
        "vigia_drift_check_age_seconds",
        "Age of the oldest camera drift result (0: never checked).",
        [],
        {(): (timezone.now() - last).total_seconds() if last else 0},
    )


def _suppression() -> Iterable[Metric]:
    """Suppression rules (#6): how many in each state, how often they fire, what they prevent."""

    now = timezone.now()
    # (aliases must not be field names: `active` and `flagged` are)
    rules = SuppressionRule.objects.aggregate(
        n_active=Count(
            "id", filter=Q(active=True, flagged=False) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        ),
        n_flagged=Count("id", filter=Q(active=True, flagged=True)),
        n_expired=Count("id", filter=Q(active=True, flagged=False, expires_at__lte=now)),
        n_inactive=Count("id", filter=Q(active=False)),
    )
    yield gauge(
        "vigia_suppression_rules",
        "Suppression rules by state.",
        ["state"],
        {(k.removeprefix("n_"),): v for k, v in rules.items()},
    )
    hits = {
        (r["group"],): r["n"] or 0
        for r in SuppressionRule.objects.values(group=camera_group_expression()).annotate(n=Sum("hits")).order_by()
    }
    yield gauge(
        "vigia_suppression_rule_hits",
        "Clips in which a rule suppressed detections (sum over rules).",
        ["camera_group"],
        cap_groups(hits),
    )
    since = now - timedelta(hours=settings.METRICS_WINDOW_HOURS)
    recent = Clip.objects.filter(recorded_at__gte=since, suppressed_score__gt=0)
    counts = {}
    for r in (
        recent.values(group=camera_group_expression())
        .annotate(
            clips=Count("id"),
            prevented=Count("id", filter=Q(alert=False, suppressed_score__gte=F("camera__threshold"))),
        )
        .order_by()
    ):
        counts[(r["group"], "suppressed")] = r["clips"]
        counts[(r["group"], "alert_prevented")] = r["prevented"]
    yield gauge(
        "vigia_clips_suppressed_recent",
        f"Clips of the last {settings.METRICS_WINDOW_HOURS} h with suppressed detections, and those a rule kept from alerting.",
        ["camera_group", "kind"],
        cap_groups(counts),
    )


def _broker() -> Iterable[Metric]:
    """Messages waiting per Celery queue, from the broker itself (Redis, the filesystem transport)."""
    from celery import current_app as app

    lengths = {}
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        channel = conn.default_channel
        for queue in settings.METRICS_CELERY_QUEUES:
            try:
                lengths[(queue,)] = channel.queue_declare(queue=queue, passive=True).message_count
            except Exception:  # a queue nobody declared yet holds nothing
                lengths[(queue,)] = 0
    yield gauge("vigia_celery_queue_length", "Messages waiting in a Celery queue.", ["queue"], lengths)


def register() -> None:
    metrics.register_db_collector("review_queue", _review_queue)
    metrics.register_db_collector("clips", _clips)
    metrics.register_db_collector("alerts", _alerts)
    metrics.register_db_collector("reviews", _reviews)
    metrics.register_db_collector("drift", _drift)
    metrics.register_db_collector("suppression", _suppression)
    metrics.register_db_collector("broker", _broker)

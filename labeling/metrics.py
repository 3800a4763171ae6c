"""Scrape-time gauges of the sync to Label Studio and DynamoDB, from labeling.SyncState.

Registered with reviewapp's metrics collector from LabelingConfig.ready(): reviewapp never
imports labeling. Each is one or two grouped queries per scrape. Also the export runs' gauges.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Max, Min, Q
from django.utils import timezone
from prometheus_client.core import Metric

from labeling.models import ExportRun, SyncState
from reviewapp.core.metrics import estimated_count, gauge

D = SyncState.Destination
S = SyncState.Status


def collect() -> Iterable[Metric]:
    now = timezone.now()
    rows = {(d, s): 0 for d in D.values for s in S.values}
    erroring = {(d,): 0 for d in D.values}
    lag = {(d,): 0.0 for d in D.values}
    # The rows not done yet, exactly: a few, read through the sync_due index. Not a GROUP BY
    # over every row: at 10 M clips that read ~11 M sync rows each scrape (#13).
    for r in (
        # Both leading columns of sync_due named: with the status alone PostgreSQL scans the table.
        SyncState.objects.filter(destination__in=D.values, status__in=[S.PENDING, S.FAILED])
        .values("destination", "status")
        .annotate(
            n=Count("id"),
            # Pending rows whose last attempt failed (retrying with backoff) and failed rows.
            errors=Count("id", filter=~Q(last_error="")),
            oldest=Min("version"),
        )
        .order_by()
    ):
        rows[(r["destination"], r["status"])] = r["n"]
        erroring[(r["destination"],)] += r["errors"]
        if r["oldest"] is not None:
            # How long the oldest change not yet at the destination has waited.
            age = (now - r["oldest"]).total_seconds()
            lag[(r["destination"],)] = max(lag[(r["destination"],)], age)
    # The rows done: exact below EXACT_COUNT_BELOW, PostgreSQL's estimate above (no scan).
    for d in D.values:
        rows[(d, S.DONE)] = estimated_count(SyncState.objects.filter(destination=d, status=S.DONE))
    yield gauge("vigia_sync_rows", "Sync rows per destination and status.", ["destination", "status"], rows)
    yield gauge(
        "vigia_sync_erroring_rows",
        "Sync rows whose last attempt failed (retrying or given up).",
        ["destination"],
        erroring,
    )
    yield gauge(
        "vigia_sync_lag_seconds",
        "Age of the oldest change not yet at the destination (0: all sent).",
        ["destination"],
        lag,
    )


def collect_exports() -> Iterable[Metric]:
    """Training-set export runs (#5) by status, and how long ago one last completed."""
    runs = {(status,): 0 for status in ExportRun.Status.values}
    for r in ExportRun.objects.values("status").annotate(n=Count("id")).order_by():
        runs[(r["status"],)] = r["n"]
    yield gauge("vigia_export_runs", "Training-set export runs by status.", ["status"], runs)
    last = ExportRun.objects.filter(status=ExportRun.Status.DONE).aggregate(last=Max("finished_at"))["last"]
    yield gauge(
        "vigia_export_last_done_age_seconds",
        "Time since the last export completed (0: never).",
        [],
        {(): (timezone.now() - last).total_seconds() if last else 0},
    )

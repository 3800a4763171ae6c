"""Prometheus metrics: what the processes count, and what the database says at scrape time.

Two kinds, because Vigia runs as several processes (gunicorn workers, Celery prefork children,
in docker-compose separate containers):

* **Events** (clips processed, alerts sent, decisions, decode/detect time) are counters and
  histograms incremented where they happen, in whichever process that is. With
  `PROMETHEUS_MULTIPROC_DIR` set (the entrypoint and `make run` set it) every process writes its
  values to files in that folder and an exposition sums them: gunicorn's workers through the
  web app's `/metrics`, a Celery worker's prefork children through a small HTTP server the
  worker's main process starts on `WORKER_METRICS_PORT`. One folder per container, so each
  container is one Prometheus target (nothing shared between hosts).
* **State** (queue depth and age, clips by status, decisions per reviewer, sync lag, drifting
  cameras) is computed from the database when Prometheus scrapes the web app: correct however
  many processes there are, never double-counted, and not lost on a restart. Only the web
  app's `/metrics` includes it (`include_db=True`).

Labels are bounded: a camera group (never a camera or clip id), a verdict, a queue, a reviewer
(the review team is small). See `camera_group` for how groups are formed.

Adding a database gauge is a few lines anywhere: a function yielding metric families,
registered with `register_db_collector` (labeling does it from its AppConfig.ready()).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.conf import settings
from django.db.models import Case, CharField, F, Value, When
from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric

log = logging.getLogger(__name__)

# `_created` series double every counter and mean nothing to our alerts.
disable_created_metrics()

OTHER = "other"

# --------------------------------------------------------------------------- event metrics

CLIPS_RECEIVED = Counter("vigia_clips_received", "Clips accepted by the ingest API.", ["camera_group"])
CLIPS_PROCESSED = Counter(
    "vigia_clips_processed", "Clips the detector finished, by whether they alerted.", ["camera_group", "alert"]
)
CLIPS_FAILED = Counter(
    "vigia_clips_failed", "Clips that ended failed (unreadable, timed out, gave up).", ["camera_group"]
)
DECODE_SECONDS = Histogram(
    "vigia_clip_decode_seconds",
    "Time spent decoding and sampling one clip's frames.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60),
)
DETECT_SECONDS = Histogram(
    "vigia_clip_detect_seconds",
    "Time spent in the detector for one clip.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 15, 30, 60, 120),
)
PROCESS_SECONDS = Histogram(
    "vigia_clip_processing_seconds",
    "From claiming a clip to its stored decision.",
    buckets=(0.25, 0.5, 1, 2, 3, 5, 8, 15, 30, 60, 120, 300),
)
ALERTS_SENT = Counter("vigia_alerts_sent", "Alerts published (SNS or the log).", ["camera_group"])
ALERT_ERRORS = Counter("vigia_alert_publish_errors", "Alerts that could not be published.", ["retryable"])
DECISIONS = Counter("vigia_review_decisions", "Review decisions recorded.", ["verdict", "source"])
FALSE_ALERT_REPORTS = Counter(
    "vigia_false_alert_reports", "Customer reports that an alert was false.", ["camera_group"]
)
PREVIEWS = Counter(
    "vigia_clip_previews", "Browser copies of clips, by outcome: written, not_needed, skipped, failed.", ["outcome"]
)
PREVIEW_SECONDS = Histogram(
    "vigia_clip_preview_seconds",
    "Time spent writing one clip's browser copy (reviewapp.review.preview).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60),
)
CLIP_EVENTS = Counter(
    "vigia_clip_events",
    "Clip-bucket events handled by the consumer (ingested, duplicate, rejected, retry, test, ignored).",
    ["outcome"],
)
CLIP_EVENTS_REJECTED = Counter(
    "vigia_clip_events_rejected",
    "Clip-bucket events that made no clip, by reason (an ingest error code: invalid_video, unknown_camera...).",
    ["reason"],
)
CLIPS_PRUNED = Counter(
    "vigia_clips_pruned", "Clips deleted by the retention (CLIP_RETENTION_DAYS, reviewapp.review.prune)."
)
CLIP_OBJECTS_PRUNED = Counter(
    "vigia_clip_objects_pruned",
    "Objects of pruned clips (detail, browser copy, uploaded file), by outcome: deleted, failed (left behind).",
    ["outcome"],
)
TASKS = Counter("vigia_celery_tasks", "Celery tasks run, by outcome.", ["task", "outcome"])
TASK_SECONDS = Histogram(
    "vigia_celery_task_seconds",
    "Run time of Celery tasks.",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
)


# ---------------------------------------------------------------------------- camera groups

_seen_groups: set[str] = set()


def _bounded(group: str) -> str:
    """A safety net under the configuration: a process labels at most METRICS_MAX_CAMERA_GROUPS
    groups; later ones count as "other" (and a warning says to set Camera.metrics_group)."""
    if group in _seen_groups:
        return group
    if len(_seen_groups) >= settings.METRICS_MAX_CAMERA_GROUPS:
        if OTHER not in _seen_groups:
            log.warning(
                "more than %d camera groups: the rest are labelled %r", settings.METRICS_MAX_CAMERA_GROUPS, OTHER
            )
            _seen_groups.add(OTHER)
        return OTHER
    _seen_groups.add(group)
    return group


def camera_group(camera) -> str:
    """The `camera_group` label of a camera: its `metrics_group` when an operator set one, else
    its customer's name (METRICS_CAMERA_GROUP=customer, the default) or "ungrouped"
    (METRICS_CAMERA_GROUP=explicit: for thousands of customers, label only what you grouped)."""
    if camera.metrics_group:
        return _bounded(camera.metrics_group)
    if settings.METRICS_CAMERA_GROUP == "customer":
        return _bounded(camera.customer.name)
    return "ungrouped"


def camera_group_expression(prefix: str = "camera__"):
    """The same rule as `camera_group`, as a database expression for the scrape-time gauges."""
    fallback = F(f"{prefix}customer__name") if settings.METRICS_CAMERA_GROUP == "customer" else _const("ungrouped")
    return Case(When(**{f"{prefix}metrics_group": ""}, then=fallback), default=F(f"{prefix}metrics_group"))


def _const(value: str):
    return Value(value, output_field=CharField())


def cap_groups(rows: dict[tuple, float], group_index: int = 0) -> dict[tuple, float]:
    """Fold label sets beyond METRICS_MAX_CAMERA_GROUPS groups (the smallest) into "other"."""
    totals: dict[str, float] = {}
    for key, value in rows.items():
        totals[key[group_index]] = totals.get(key[group_index], 0) + value
    keep = set(sorted(totals, key=lambda g: (-totals[g], g))[: settings.METRICS_MAX_CAMERA_GROUPS])
    out: dict[tuple, float] = {}
    for key, value in rows.items():
        if key[group_index] not in keep:
            key = (*key[:group_index], OTHER, *key[group_index + 1 :])
        out[key] = out.get(key, 0) + value
    return out


# ------------------------------------------------------------------------------- hooks
# Called from reviewapp.services; each is one line there. Never let a metric break the work.


def _safe(fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception:  # pragma: no cover - a metrics bug must not fail a clip
        log.exception("metrics update failed")


def clip_received(camera) -> None:
    _safe(lambda: CLIPS_RECEIVED.labels(camera_group(camera)).inc())


def clip_processed(clip) -> None:
    def update():
        CLIPS_PROCESSED.labels(camera_group(clip.camera), "true" if clip.alert else "false").inc()
        if clip.decode_ms is not None:
            DECODE_SECONDS.observe(clip.decode_ms / 1000)
        if clip.detect_ms is not None:
            DETECT_SECONDS.observe(clip.detect_ms / 1000)
        if clip.processing_ms is not None:
            PROCESS_SECONDS.observe(clip.processing_ms / 1000)

    _safe(update)


def clip_failed(camera) -> None:
    _safe(lambda: CLIPS_FAILED.labels(camera_group(camera)).inc())


def alert_sent(camera) -> None:
    _safe(lambda: ALERTS_SENT.labels(camera_group(camera)).inc())


def alert_error(*, retryable: bool) -> None:
    _safe(lambda: ALERT_ERRORS.labels("true" if retryable else "false").inc())


def decision_recorded(*, verdict: str, source: str) -> None:
    _safe(lambda: DECISIONS.labels(verdict, source).inc())


def false_alert_reported(camera) -> None:
    _safe(lambda: FALSE_ALERT_REPORTS.labels(camera_group(camera)).inc())


def preview_done(*, outcome: str, seconds: float) -> None:
    def update():
        PREVIEWS.labels(outcome).inc()
        if outcome == "written":
            PREVIEW_SECONDS.observe(seconds)

    _safe(update)


def clip_event(outcome: str) -> None:
    _safe(lambda: CLIP_EVENTS.labels(outcome).inc())


def clip_event_rejected(reason: str) -> None:
    _safe(lambda: CLIP_EVENTS_REJECTED.labels(reason).inc())


def clips_pruned(*, clips: int, objects: int, object_errors: int) -> None:
    def update():
        CLIPS_PRUNED.inc(clips)
        CLIP_OBJECTS_PRUNED.labels("deleted").inc(objects)
        CLIP_OBJECTS_PRUNED.labels("failed").inc(object_errors)

    _safe(update)


# -------------------------------------------------------------------- scrape-time gauges

DbCollector = Callable[[], Iterable[Metric]]
_db_collectors: dict[str, DbCollector] = {}


def register_db_collector(name: str, fn: DbCollector) -> None:
    """Add a function that yields metric families computed from the database at scrape time.
    Registering the same name again replaces it (AppConfig.ready() may run twice in tests)."""
    _db_collectors[name] = fn


def gauge(name: str, documentation: str, labels: list[str], values: dict[tuple, float]) -> GaugeMetricFamily:
    """A gauge family from {label values: value}: the few lines a new database gauge needs."""
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for key, value in sorted(values.items()):
        family.add_metric([str(k) for k in key], float(value))
    return family


# Below this many rows (the planner's estimate) a count is exact; above it, the estimate itself.
EXACT_COUNT_BELOW = 100_000


def estimated_count(queryset, *, exact_below: int = EXACT_COUNT_BELOW) -> int:
    """How many rows `queryset` has: exact when PostgreSQL's planner expects fewer than
    `exact_below` (and always on other databases), else the planner's estimate (from the
    table's statistics, no scan). For gauges over tables of millions of rows, where a COUNT
    would read every row of a scrape (#13: ~10 M sync rows)."""
    from django.db import connections

    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return queryset.count()
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        import json

        plan = json.loads(plan)
    rows = int(plan[0]["Plan"]["Plan Rows"])
    return queryset.count() if rows < exact_below else rows


class DatabaseCollector:
    """Runs every registered function at scrape time. A failing one (database down, broker
    unreachable) shows as vigia_metrics_collector_up 0 instead of failing the whole scrape."""

    def describe(self):
        return []  # nothing to check at registration: no queries then

    def collect(self):
        up = GaugeMetricFamily(
            "vigia_metrics_collector_up", "1 when the scrape-time collector worked.", labels=["collector"]
        )
        took = GaugeMetricFamily("vigia_metrics_collector_seconds", "Time the collector took.", labels=["collector"])
        for name, fn in list(_db_collectors.items()):
            start = time.perf_counter()
            try:
                families = list(fn())
            except Exception:
                log.exception("metrics collector %s failed", name)
                up.add_metric([name], 0)
            else:
                up.add_metric([name], 1)
                yield from families
            took.add_metric([name], time.perf_counter() - start)
        yield up
        yield took


class _ProcessCollector:
    """This process's own counters when not in multiprocess mode (tests, a single process)."""

    def describe(self):
        return []

    def collect(self):
        yield from REGISTRY.collect()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def exposition(*, include_db: bool) -> bytes:
    """The text Prometheus scrapes: this container's event metrics (every process's, in
    multiprocess mode), plus the database gauges when asked."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessCollector())
    if include_db:
        registry.register(DatabaseCollector())
    return generate_latest(registry)


# ------------------------------------------------------------------------ Celery workers


def _task_name(task) -> str:
    return getattr(task, "name", None) or "unknown"


_celery_connected = False


def connect_celery_signals() -> None:
    """Task counters, and the worker's metrics endpoint. Connected once, from reviewapp.tasks."""
    global _celery_connected
    if _celery_connected:  # a second import must not count every task twice
        return
    _celery_connected = True
    from celery.signals import (
        task_postrun,
        task_prerun,
        task_retry,
        worker_process_shutdown,
        worker_ready,
    )

    started: dict[str, float] = {}

    @task_prerun.connect(weak=False)
    def _prerun(task_id=None, task=None, **_kw):
        started[task_id] = time.perf_counter()

    @task_postrun.connect(weak=False)
    def _postrun(task_id=None, task=None, state=None, **_kw):
        start = started.pop(task_id, None)
        if start is not None:
            TASK_SECONDS.labels(_task_name(task)).observe(time.perf_counter() - start)
        if state in ("SUCCESS", "FAILURE"):
            TASKS.labels(_task_name(task), state.lower()).inc()

    @task_retry.connect(weak=False)
    def _retry(sender=None, **_kw):
        TASKS.labels(_task_name(sender), "retry").inc()

    @worker_ready.connect(weak=False)
    def _serve(sender=None, **_kw):
        worker_metrics_serve()

    @worker_process_shutdown.connect(weak=False)
    def _dead(pid=None, **_kw):
        if multiprocess_dir():
            multiprocess.mark_process_dead(pid or os.getpid())


def worker_metrics_serve():
    """In a Celery worker's main process: serve this container's event metrics (its prefork
    children's, through the multiprocess folder) on WORKER_METRICS_PORT. Off when 0. No database
    gauges here: the web app exports those once. Returns the server (None when off)."""
    port = settings.WORKER_METRICS_PORT
    if not port:
        return None
    if not multiprocess_dir():
        log.warning("PROMETHEUS_MULTIPROC_DIR is unset: the pool's processes' counters will not be served")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = exposition(include_db=False)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # scrapes every 15 s would flood the worker's log
            pass

    try:
        server = ThreadingHTTPServer((settings.WORKER_METRICS_ADDR, port), Handler)
    except OSError as exc:  # the port is taken: the worker still works, only unscraped
        log.error("cannot serve worker metrics on %s:%d: %s", settings.WORKER_METRICS_ADDR, port, exc)
        return None
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("worker metrics on %s:%d/metrics", settings.WORKER_METRICS_ADDR, server.server_address[1])
    return server

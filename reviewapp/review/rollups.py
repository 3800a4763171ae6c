"""The error analysis's counts and the drift check's histograms, kept as clips are decided (#13):
rollup tables of processed clips by UTC hour, camera, resolution class, lighting and model version
(reviewapp.review.rollup_models: AnalysisCell, AnalysisHour, AnalysisCameraDay, AnalysisTagCell, DriftHour), read by
reviewapp/monitoring/analysis_rollups.py instead of scanning every clip; and by UTC hour and
camera, the clips binned by raw score and person boxes (DriftHour, the bins of score_bins), read
by reviewapp/monitoring/drift.py.

Kept exact by one mechanism: every service that changes what a clip counts for (the worker's
result, a review, an undo, a Label Studio annotation, a customer report) runs inside
`clip_change(clip_id)`. It locks the clip's row, reads the clip's contribution (its key, its
counts, the tags of its newest review), lets the change happen, reads it again and adds the
difference to the rollups with upserts (`counts = counts + delta`), all in the change's
transaction. The clip's row lock is taken first, before the review item's, by every service:
two reviewers deciding the same clip, or a report racing a review, take turns, and each reads
the other's committed change (READ COMMITTED: a statement after the lock sees what committed
before it). Rows of the rollups are updated in one order (table, key), so two changes never
wait for each other crosswise.

What a clip counts for is defined once, here: COUNT_RULES, `clips_counted()` (the one query of
processed clips with their verdict, report, resolution and lighting) and `resolution_class` /
`lighting_class`; in the drift check's bins, score_bins.binned. `rollups_rebuild` recomputes
the tables from the clips with them, in bulk SQL, never the days the retention may have pruned
(`rebuild_floor`): pruned clips (CLIP_RETENTION_DAYS, reviewapp.review.prune, which deletes rows
without `clip_change`) stay counted here only. A change made outside the services (the admin, a
SQL console) or of NIGHT_MAX_SATURATION needs `manage.py analysis_rollups_rebuild`.
"""

from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, CharField, Count, Exists, OuterRef, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Trunc, TruncDate
from django.utils.translation import gettext_lazy as _

from reviewapp.review.models import Clip, FalseAlertReport, Review
from reviewapp.review.rollup_models import AnalysisCameraDay, AnalysisCell, AnalysisHour, AnalysisTagCell, DriftHour
from reviewapp.review.score_bins import BOXES_BIN_FIELDS, SCORE_BIN_FIELDS, binned, with_bins

# ------------------------------------------------------------------- what a clip counts for

# Resolution classes by the short side of the frame (a 640x480 camera is "sd").
RESOLUTION_CLASSES = [
    ("low", _("low (<360p)"), 360),
    ("sd", _("SD (360-719p)"), 720),
    ("hd", _("HD (720-1079p)"), 1080),
]
RESOLUTION_TOP = ("fhd", _("Full HD and up"))
LIGHTING = {"day": _("day (colour)"), "night": _("night (infrared, grey)"), "unknown": _("not measured")}

REVIEWED = object()  # a verdict, whichever
# Each count and what a clip needs to be counted in it (alert, verdict, reported; absent: any):
# reviewed alert = it alerted and a reviewer decided it; false alert = it alerted and the verdict
# is no_person; missed = it did not alert and the verdict is person.
COUNT_RULES = {
    "clips": {},
    "alerts": {"alert": True},
    "reviewed": {"verdict": REVIEWED},
    "alerts_reviewed": {"alert": True, "verdict": REVIEWED},
    "false_alerts": {"alert": True, "verdict": Review.Verdict.NO_PERSON},
    "missed": {"alert": False, "verdict": Review.Verdict.PERSON},
    "reported": {"reported": True},
}
COUNT_FIELDS = tuple(COUNT_RULES)
TAG_COUNT_FIELDS = ("reviewed", "alerts_reviewed", "false_alerts", "missed")


def _holds(want, value) -> bool:
    return value is not None if want is REVIEWED else value == want


def increments(alert, verdict, reported) -> tuple[int, ...]:
    """One clip's contribution to each of COUNT_FIELDS."""
    values = {"alert": alert, "verdict": verdict, "reported": bool(reported)}
    return tuple(int(all(_holds(w, values[k]) for k, w in rule.items())) for rule in COUNT_RULES.values())


def _count_sql(name: str) -> tuple[str, list]:
    """COUNT_RULES[name] as a SQL sum over the columns alert, verdict, reported."""
    conditions, params = [], []
    for column, want in COUNT_RULES[name].items():
        if want is REVIEWED:
            conditions.append(f"{column} IS NOT NULL")
        else:
            conditions.append(f"{column} = %s")
            params.append(str(want) if isinstance(want, str) else want)
    return f"SUM(CASE WHEN {' AND '.join(conditions) or '1 = 1'} THEN 1 ELSE 0 END)", params


def resolution_class():
    """By the short side (a portrait camera is no sharper than a landscape one): the first
    class whose bound the short side is under."""
    whens = [
        When(Q(height__lt=below) | Q(width__lt=below), then=Value(slug)) for slug, _label, below in RESOLUTION_CLASSES
    ]
    return Case(*whens, default=Value(RESOLUTION_TOP[0]), output_field=CharField())


def lighting_class():
    return Case(
        When(saturation__isnull=True, then=Value("unknown")),
        When(saturation__lt=settings.NIGHT_MAX_SATURATION, then=Value("night")),
        default=Value("day"),
        output_field=CharField(),
    )


def clips_counted() -> QuerySet[Clip]:
    """Processed clips with their verdict (the newest review), report, resolution and lighting."""
    return (
        Clip.objects.filter(status=Clip.Status.DONE)
        .with_verdict()
        .annotate(
            reported=Exists(FalseAlertReport.objects.filter(clip=OuterRef("pk"))),
            resolution=resolution_class(),
            lighting=lighting_class(),
        )
    )


# ------------------------------------------------------------------------- the five tables

_SLICE = ("resolution", "lighting", "model_version")


@dataclass(frozen=True)
class Table:
    model: type
    keys: tuple[str, ...]  # columns of the unique key
    counts: tuple[str, ...]


CELL = Table(AnalysisCell, ("hour", "camera_id", *_SLICE), COUNT_FIELDS)
HOUR = Table(AnalysisHour, ("hour", *_SLICE), COUNT_FIELDS)
CAMERA_DAY = Table(AnalysisCameraDay, ("day", "camera_id", *_SLICE), COUNT_FIELDS)
TAG_CELL = Table(AnalysisTagCell, ("hour", "camera_id", "tag_id", *_SLICE), TAG_COUNT_FIELDS)
DRIFT_COUNTS = ("clips", "score_sum", *SCORE_BIN_FIELDS, *BOXES_BIN_FIELDS)
DRIFT = Table(DriftHour, ("hour", "camera_id"), DRIFT_COUNTS)
TABLES = (CELL, HOUR, CAMERA_DAY, TAG_CELL, DRIFT)


@dataclass(frozen=True)
class Contribution:
    """What one processed clip adds to the rollups."""

    hour: datetime  # UTC, truncated
    camera_id: int
    resolution: str
    lighting: str
    model_version: str
    counts: tuple[int, ...]  # of COUNT_FIELDS
    tag_ids: tuple[int, ...]  # of its newest review
    drift: tuple | None = None  # of DRIFT_COUNTS; None: no score

    def rows(self):
        """(table, key, counts) of each row it adds to."""
        s = (self.resolution, self.lighting, self.model_version)
        yield CELL, (self.hour, self.camera_id, *s), self.counts
        yield HOUR, (self.hour, *s), self.counts
        yield CAMERA_DAY, (self.hour.date(), self.camera_id, *s), self.counts
        tag_counts = tuple(self.counts[COUNT_FIELDS.index(name)] for name in TAG_COUNT_FIELDS)
        for tag_id in self.tag_ids if self.counts[COUNT_FIELDS.index("reviewed")] else ():
            yield TAG_CELL, (self.hour, self.camera_id, tag_id, *s), tag_counts
        if self.drift is not None:
            yield DRIFT, (self.hour, self.camera_id), self.drift


def drift_counts(raw_score, score_bin, boxes_bin) -> tuple:
    """One scored clip's contribution to DRIFT_COUNTS (score_bins: boxes_bin None, in no bin)."""
    scores = tuple(int(i == score_bin) for i in range(len(SCORE_BIN_FIELDS)))
    return (1, raw_score, *scores, *(int(i == boxes_bin) for i in range(len(BOXES_BIN_FIELDS))))


_CLIP_FIELDS = ("recorded_at", "camera_id", *_SLICE, "alert", "verdict", "verdict_review_id", "reported", "score")


def contribution(clip_id) -> Contribution | None:
    """The clip's contribution now; None when it is not processed (or gone)."""
    row = (
        with_bins(clips_counted().filter(pk=clip_id))
        .values(*_CLIP_FIELDS, "raw_score", "score_bin", "boxes_bin")
        .first()
    )
    if row is None:
        return None
    tag_ids = ()
    if row["verdict_review_id"] is not None:
        through = Review.tags.through.objects.filter(review_id=row["verdict_review_id"])
        tag_ids = tuple(sorted(through.values_list("tag_id", flat=True)))
    return Contribution(
        hour=row["recorded_at"].astimezone(UTC).replace(minute=0, second=0, microsecond=0),
        camera_id=row["camera_id"],
        resolution=row["resolution"],
        lighting=row["lighting"],
        model_version=row["model_version"],
        counts=increments(row["alert"], row["verdict"], row["reported"]),
        tag_ids=tag_ids,
        drift=drift_counts(row["raw_score"], row["score_bin"], row["boxes_bin"]) if row["score"] is not None else None,
    )


def _deltas(before: Contribution | None, after: Contribution | None) -> dict:
    """{(table, key): after's counts - before's} of every row either adds to, zeros left out."""
    out: dict = defaultdict(lambda: defaultdict(int))
    for sign, c in ((-1, before), (1, after)):
        for table, key, counts in c.rows() if c is not None else ():
            for i, n in enumerate(counts):
                out[(table, key)][i] += sign * n
    deltas = {k: tuple(v[i] for i in range(len(k[0].counts))) for k, v in out.items()}
    return {k: v for k, v in deltas.items() if any(v)}


def rollups_add(deltas: dict) -> None:
    """Add {(table, key): counts} to the rollups: one upsert per row, in (table, key) order."""
    order = {t: i for i, t in enumerate(TABLES)}
    with connection.cursor() as cursor:
        for (table, key), counts in sorted(deltas.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
            cursor.execute(*_upsert_sql(table, key, counts))


def _upsert_sql(table: Table, key: tuple, counts: tuple[int, ...]) -> tuple[str, list]:
    q = connection.ops.quote_name
    name = q(table.model._meta.db_table)
    columns = [*table.keys, *table.counts]
    updates = ", ".join(f"{q(c)} = {name}.{q(c)} + EXCLUDED.{q(c)}" for c in table.counts)
    sql = (
        f"INSERT INTO {name} ({', '.join(q(c) for c in columns)}) VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({', '.join(q(c) for c in table.keys)}) DO UPDATE SET {updates}"
    )
    # The hour and the day as the backend stores them (SQLite: text), so a key matches its row.
    meta = table.model._meta
    prepared = [
        meta.get_field(c).get_db_prep_value(v, connection) if c in ("hour", "day") else v
        for c, v in zip(table.keys, key)
    ]
    return sql, [*prepared, *counts]


@contextmanager
def clip_change(clip_id):
    """Run a change of the clip and keep the rollups exact, in one transaction (module docstring).
    Enter it before any other lock of the change (the review item's)."""
    with transaction.atomic():
        list(Clip.objects.select_for_update().filter(pk=clip_id).values_list("pk", flat=True))
        before = contribution(clip_id)
        yield
        rollups_add(_deltas(before, contribution(clip_id)))


# ----------------------------------------------------------------------------- the rebuild


def _since_hour(since: date | None) -> datetime | None:
    return datetime.combine(since, time.min, tzinfo=UTC) if since else None


def rollups_missing() -> bool:
    """Processed clips and no rollup at all, or scored clips and no DriftHour: the first deploy
    after the rollups (or the drift's table) came, before its rebuild (the pages and the drift
    check scan meanwhile, `analysis_rollups_rebuild --if-empty` builds them all)."""
    if not AnalysisHour.objects.exists():
        return clips_counted().exists()
    return not DriftHour.objects.exists() and binned(clips_counted()).exists()


def rebuild_floor(now: datetime | None = None) -> date | None:
    """The first UTC day a rebuild may recompute: the day after the retention's horizon
    (reviewapp.review.prune). Clips before the horizon may be pruned and the rollups are all
    that counts them: a rebuild of those days would wipe their counts. The day between is
    left as it is, so a prune running during a rebuild never deletes a clip the rebuild counts.
    None when the retention is off (every clip is still there)."""
    from reviewapp.review.prune import retention_horizon

    horizon = retention_horizon(now or datetime.now(UTC))
    return None if horizon is None else horizon.date() + timedelta(days=1)


def rollups_rebuild(*, since: date | None = None, everything: bool = False) -> dict[str, int]:
    """Recompute the rollups from the clips recorded on or after `since` (a UTC day), in bulk
    SQL, in one transaction. Returns the rows written per table. Never before `rebuild_floor()`
    (a `since` before it is moved up to it; None is it): pruned clips are counted only by the
    rollups. `everything`: every day, from whatever clips are left (the first build, or a
    retention that never ran)."""
    if not everything:
        floor = rebuild_floor()
        if floor is not None and (since is None or since < floor):
            since = floor
    else:
        since = None
    start = _since_hour(since)
    with transaction.atomic():
        _lock_tables()
        for table in TABLES:
            rows = table.model.objects.all()
            if start is not None:
                rows = rows.filter(day__gte=since) if "day" in table.keys else rows.filter(hour__gte=start)
            rows.delete()
        clips = clips_counted().annotate(hour_utc=Trunc("recorded_at", "hour", tzinfo=UTC))
        if start is not None:
            clips = clips.filter(recorded_at__gte=start)
        _insert_cells(clips)
        _insert_tag_cells(clips)
        _insert_drift(clips)
        cells = AnalysisCell.objects.filter(hour__gte=start) if start else AnalysisCell.objects.all()
        sums = {c: Sum(c) for c in COUNT_FIELDS}
        _insert_select(HOUR, cells.values("hour", *_SLICE).annotate(**sums).order_by(), ("hour", *_SLICE))
        by_day = cells.annotate(utc_day=TruncDate("hour", tzinfo=UTC)).values("utc_day", "camera_id", *_SLICE)
        _insert_select(CAMERA_DAY, by_day.annotate(**sums).order_by(), ("utc_day", "camera_id", *_SLICE))
    return {table.model.__name__: table.model.objects.count() for table in TABLES}


def _lock_tables() -> None:
    """PostgreSQL: the changes running meanwhile wait (reads do not) until the rebuild commits,
    then add their difference to the rebuilt counts (which did not see them). SQLite has one
    writer at a time anyway."""
    if connection.vendor == "postgresql":
        names = ", ".join(connection.ops.quote_name(t.model._meta.db_table) for t in TABLES)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {names} IN EXCLUSIVE MODE")


def _insert_select(table: Table, qs: QuerySet, names: tuple[str, ...]) -> None:
    """INSERT INTO table SELECT the columns `names` (then the counts) of qs, by name: Django's
    column order of a values() query is its own."""
    sql, params = qs.query.sql_with_params()
    q = connection.ops.quote_name
    columns = ", ".join(q(c) for c in (*table.keys, *table.counts))
    selected = ", ".join(f"s.{q(c)}" for c in (*names, *table.counts))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {q(table.model._meta.db_table)} ({columns}) SELECT {selected} FROM ({sql}) s", params
        )


def _grouped_insert(table: Table, inner: QuerySet, *, join: str = "", extra_keys: tuple[str, ...] = ()) -> None:
    """INSERT INTO table SELECT keys, COUNT_RULES sums FROM (one row per clip) GROUP BY keys."""
    q = connection.ops.quote_name
    inner_sql, params = inner.query.sql_with_params()
    keys = ("c.hour_utc", "c.camera_id", *extra_keys, *(f"c.{k}" for k in _SLICE))
    sums, sum_params = [], []
    for name in table.counts:
        sql, p = _count_sql(name)
        sums.append(sql)
        sum_params += p
    columns = ", ".join(q(c) for c in (*table.keys, *table.counts))
    sql = (
        f"INSERT INTO {q(table.model._meta.db_table)} ({columns}) "
        f"SELECT {', '.join(keys)}, {', '.join(sums)} FROM ({inner_sql}) c {join} GROUP BY {', '.join(keys)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*sum_params, *params])


def _insert_cells(clips: QuerySet) -> None:
    inner = clips.values("hour_utc", "camera_id", *_SLICE, "alert", "verdict", "reported").order_by()
    _grouped_insert(CELL, inner)


def _insert_tag_cells(clips: QuerySet) -> None:
    inner = (
        clips.filter(verdict__isnull=False)
        .values("hour_utc", "camera_id", *_SLICE, "alert", "verdict", "reported", "verdict_review_id")
        .order_by()
    )
    through = connection.ops.quote_name(Review.tags.through._meta.db_table)
    _grouped_insert(
        TAG_CELL, inner, join=f"JOIN {through} t ON t.review_id = c.verdict_review_id", extra_keys=("t.tag_id",)
    )


def _insert_drift(clips: QuerySet) -> None:
    sums = {"clips": Count("pk"), "score_sum": Sum("raw_score")}
    sums |= {name: Count("pk", filter=Q(score_bin=i)) for i, name in enumerate(SCORE_BIN_FIELDS)}
    sums |= {name: Count("pk", filter=Q(boxes_bin=i)) for i, name in enumerate(BOXES_BIN_FIELDS)}
    by_hour = binned(clips).values("hour_utc", "camera_id").annotate(**sums).order_by()
    _insert_select(DRIFT, by_hour, ("hour_utc", "camera_id"))

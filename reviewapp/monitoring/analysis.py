"""Error analysis: where the detector is wrong, by tag, camera, customer, resolution, hour,
day/night, model version and day. Reads only (selectors).

A clip's verdict is its newest review. Definitions used everywhere (page, charts, click-through):
* reviewed alert  — the clip alerted and a reviewer decided it;
* false alert     — it alerted and the verdict is `no_person`;
* false-alert rate — false alerts / reviewed alerts (unreviewed alerts are unknown, not right);
* missed          — it did not alert and the verdict is `person`;
* reported        — a customer reported it as a false alert.

The filters are the shared vocabulary of clips (reviewapp.review.filters: names, dates, errors),
the one the training-set export takes, so a slice seen here is exported with the same query
string. Click-through adds `resolution`, `lighting`, `hour` and `outcome`, which only this page
knows.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

from django.db.models import Count, Q, QuerySet, Subquery
from django.db.models.functions import ExtractHour, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reviewapp.review.filters import (
    FILTER_NAMES,
    ClipFilters,
    clip_filters_apply,
    clip_filters_parse,
    declared_params,
    number,
    one_of,
    option,
)
from reviewapp.review.models import Clip, Review
from reviewapp.review.rollups import (
    COUNT_FIELDS,
    LIGHTING,
    RESOLUTION_CLASSES,
    RESOLUTION_TOP,
    clips_counted,
    increments,
    lighting_class,
    resolution_class,
)

__all__ = ["COUNT_FIELDS", "LIGHTING", "RESOLUTION_CLASSES", "lighting_class", "resolution_class"]

OUTCOMES = ("false_alert", "missed", "alert", "reviewed", "reported")


def _resolutions() -> list[str]:
    return [c[0] for c in RESOLUTION_CLASSES] + [RESOLUTION_TOP[0]]


@dataclass(frozen=True, kw_only=True)
class Slice(ClipFilters):
    """The shared filters (reviewapp.review.filters), and the click-through ones of this page."""

    resolution: str = option("", help="resolution class", check=one_of(_resolutions()))
    lighting: str = option("", help="day or night", check=one_of(LIGHTING))
    hour: int | None = option(None, help="hour of the day (the viewer's time zone)", check=number(int, low=0, high=23))
    outcome: str = option("", help="which clips of the slice", check=one_of(OUTCOMES))

    @classmethod
    def from_query(cls, query) -> Slice:
        """Parse a request's GET. Raises ApplicationError (400) naming every bad field."""
        return clip_filters_parse(cls, query)

    def params(self, *, export_only: bool = False) -> list[tuple[str, str]]:
        return self.filter_params() if export_only else declared_params(self, Slice)

    def query_string(self, *, export_only: bool = False) -> str:
        return urlencode(self.params(export_only=export_only))

    def filters_only(self) -> Slice:
        """The same slice without the click-through filters (what the export can take)."""
        return Slice(**{name: getattr(self, name) for name in FILTER_NAMES})


# ------------------------------------------------------------------------------ queries


def annotated_clips() -> QuerySet[Clip]:
    """Processed clips with what error analysis groups and counts by (reviewapp.review.rollups)."""
    # The viewer's zone (reviewapp.core.timezones): a night shift is a night shift where it is.
    return clips_counted().annotate(hour=ExtractHour("recorded_at", tzinfo=timezone.get_current_timezone()))


OUTCOME_Q = {
    "false_alert": Q(alert=True, verdict=Review.Verdict.NO_PERSON),
    "missed": Q(alert=False, verdict=Review.Verdict.PERSON),
    "alert": Q(alert=True),
    "reviewed": Q(verdict__isnull=False),
    "reported": Q(reported=True),
}


def clips_in_slice(s: Slice) -> QuerySet[Clip]:
    qs = clip_filters_apply(annotated_clips(), s)
    if s.resolution:
        qs = qs.filter(resolution=s.resolution)
    if s.lighting:
        qs = qs.filter(lighting=s.lighting)
    if s.hour is not None:
        qs = qs.filter(hour=s.hour)
    if s.outcome:
        qs = qs.filter(OUTCOME_Q[s.outcome])
    return qs


@dataclass
class Row:
    key: str
    label: str
    clips: int = 0
    alerts: int = 0
    reviewed: int = 0
    alerts_reviewed: int = 0
    false_alerts: int = 0
    missed: int = 0
    reported: int = 0
    refine: dict = field(default_factory=dict)  # the filter that selects this row's clips

    @property
    def false_alert_rate(self) -> float | None:
        return self.false_alerts / self.alerts_reviewed if self.alerts_reviewed else None


_RES_LABELS = {slug: label for slug, label, _below in RESOLUTION_CLASSES} | {RESOLUTION_TOP[0]: RESOLUTION_TOP[1]}
_RES_ORDER = [c[0] for c in RESOLUTION_CLASSES] + [RESOLUTION_TOP[0]]
_BY_FALSE = None  # default order: most false alerts first, then by label

# dimension -> (label of a key, filter that selects it, sort key of a row or None)
_DIMS = {
    "camera": (str, lambda k: {"camera": (k,)}, _BY_FALSE),
    "customer": (None, lambda k: {"customer": k}, _BY_FALSE),  # labelled with the customer's name
    "resolution": (_RES_LABELS.get, lambda k: {"resolution": k}, lambda row: _RES_ORDER.index(row.key)),
    "lighting": (LIGHTING.get, lambda k: {"lighting": k}, lambda row: list(LIGHTING).index(row.key)),
    "hour": (lambda k: f"{k:02d}h", lambda k: {"hour": k}, lambda row: int(row.key)),
    "model_version": (lambda k: k or _("(none)"), lambda k: {"model_version": k}, _BY_FALSE),
    "day": (lambda k: k.isoformat(), lambda k: {"since": k.isoformat(), "until": k.isoformat()}, lambda row: row.key),
}


def breakdowns(s: Slice) -> tuple[Row, dict[str, list[Row]]]:
    """The slice's totals and its rows per dimension (all but tags), in one pass over one query
    of its clips: the scan, for the slices the rollups cannot answer (analysis_rollups.py).

    One query rather than a GROUP BY per dimension: the newest-review subquery and the report
    check then run once per clip instead of once per clip and dimension (8x fewer on the page;
    see benchmarks/bench_monitoring.py). The rows stream in chunks, so memory stays flat."""
    qs = (
        clips_in_slice(s)
        # The days of the shared filters' date rule, so that a day's row selects its clips.
        .annotate(day=TruncDate("recorded_at", tzinfo=timezone.get_current_timezone()))
        .values_list(
            "camera__name",
            "camera__customer_id",
            "camera__customer__name",
            "resolution",
            "lighting",
            "hour",
            "model_version",
            "day",
            "alert",
            "verdict",
            "reported",
        )
        .order_by()
    )
    acc = Accumulator()
    for camera, customer_id, customer, resolution, lighting, hour, model, day, alert, verdict, reported in qs.iterator(
        chunk_size=5000
    ):
        acc.customers[customer_id] = customer
        keys = (camera, customer_id, resolution, lighting, hour, model, day)
        acc.add(dict(zip(_DIMS, keys)), increments(alert, verdict, reported))
    return acc.rows()


class Accumulator:
    """Counts summed per key of each dimension, and the rows they make (the scan and the rollups
    fill one alike, so both give the same rows in the same order)."""

    def __init__(self):
        self.total = [0] * len(COUNT_FIELDS)
        self.acc: dict[str, dict] = {name: {} for name in _DIMS}
        self.customers: dict[int, str] = {}

    def add(self, keys: dict, counts, *, total: bool = True) -> None:
        """Add `counts` under each {dimension: key} given (and to the total)."""
        n = len(COUNT_FIELDS)
        for name, key in keys.items():
            into = self.acc[name].get(key)
            if into is None:
                into = self.acc[name][key] = [0] * n
            for i in range(n):
                into[i] += counts[i]
        if total:
            for i in range(n):
                self.total[i] += counts[i]

    def rows(self) -> tuple[Row, dict[str, list[Row]]]:
        out = {}
        for name, (label_of, refine_of, order) in _DIMS.items():
            label_of = label_of or (lambda k: self.customers.get(k, str(k)))
            rows = [
                Row(key=str(key), label=label_of(key), refine=refine_of(key), **dict(zip(COUNT_FIELDS, counts)))
                for key, counts in self.acc[name].items()
                if counts[0]  # a key with no clips left (rollups keep zero rows) is no row
            ]
            out[name] = sorted(rows, key=order or (lambda row: (-row.false_alerts, row.label)))
        return Row(key="all", label="all", **dict(zip(COUNT_FIELDS, self.total))), out


def summary(s: Slice) -> Row:
    return breakdowns(s)[0]


def _one(name):
    def by(s: Slice) -> list[Row]:
        return breakdowns(s)[1][name]

    by.__name__ = f"by_{name}"
    return by


by_camera, by_customer, by_resolution, by_lighting, by_hour, by_model_version, by_day = (
    _one(name) for name in ("camera", "customer", "resolution", "lighting", "hour", "model_version", "day")
)


def by_tag(s: Slice) -> list[Row]:
    """Per tag of the clips' newest reviews (a clip with two tags counts under both)."""
    through = Review.tags.through.objects.filter(review_id__in=Subquery(clips_in_slice(s).values("verdict_review_id")))
    out = []
    for r in (
        through.values("tag__slug", "tag__name")
        .annotate(
            reviewed=Count("review__clip", distinct=True),
            alerts_reviewed=Count("review__clip", filter=Q(review__clip__alert=True), distinct=True),
            false_alerts=Count(
                "review__clip",
                filter=Q(review__clip__alert=True, review__verdict=Review.Verdict.NO_PERSON),
                distinct=True,
            ),
            missed=Count(
                "review__clip",
                filter=Q(review__clip__alert=False, review__verdict=Review.Verdict.PERSON),
                distinct=True,
            ),
        )
        .order_by()
    ):
        out.append(tag_row(r))
    return tag_rows_sorted(out)


def tag_row(r: dict) -> Row:
    """A tag's row from its slug, name and counts (the scan's or the rollups')."""
    return Row(
        key=r["tag__slug"],
        label=r["tag__name"],
        clips=r["reviewed"],
        reviewed=r["reviewed"],
        alerts_reviewed=r["alerts_reviewed"],
        false_alerts=r["false_alerts"],
        missed=r["missed"],
        refine={"tag": (r["tag__slug"],)},
    )


def tag_rows_sorted(rows: list[Row]) -> list[Row]:
    return sorted((r for r in rows if r.reviewed), key=lambda row: (-row.false_alerts, row.label))


DIMENSIONS = {
    "tag": (_("By tag (newest review)"), by_tag),
    "camera": (_("By camera"), by_camera),
    "customer": (_("By customer"), by_customer),
    "resolution": (_("By resolution"), by_resolution),
    "lighting": (_("Day / night"), by_lighting),
    "hour": (_("By hour of day"), by_hour),
    "model_version": (_("By model version"), by_model_version),
    "day": (_("Over time (by day)"), by_day),
}


def page(s: Slice) -> tuple[Row, dict[str, list[Row]]]:
    """Everything the page shows: the totals and the rows of every dimension (two queries)."""
    total, rows = breakdowns(s)
    rows["tag"] = by_tag(s)
    return total, {name: rows[name] for name in DIMENSIONS}


def refined(s: Slice, refine: dict, *, outcome: str = "") -> Slice:
    return replace(s, **refine, outcome=outcome or s.outcome)

"""The error-analysis page from the rollups (reviewapp/review/rollups.py): the same rows as the
scan of clips (analysis.breakdowns, analysis.by_tag), from a few thousand counted rows instead of
every clip. Reads only.

Which table answers what (docs/monitoring.md#rollups):
* totals, hour of day, day, resolution, day/night, model version: AnalysisHour (all cameras), or
  AnalysisCell when the slice names cameras or a customer — their UTC hours, in the viewer's zone;
* camera and customer rows: AnalysisCameraDay for the whole UTC days of the window and
  AnalysisCell for the hours at its two ends (a day in São Paulo is 03:00 to 03:00 UTC);
* tags: AnalysisTagCell.

A slice they cannot answer goes to the scan (`unanswerable` says why, and the page says so): a tag
filter (a clip with two of the tags would count twice), an outcome filter, a since/until that is
not on a UTC hour, or a time zone whose offset is not whole hours (India's +05:30).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from django.db.models import QuerySet, Sum
from django.db.models.functions import ExtractHour, TruncDate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reviewapp.monitoring import analysis
from reviewapp.review.models import Camera
from reviewapp.review.rollup_models import AnalysisCameraDay, AnalysisCell, AnalysisHour, AnalysisTagCell
from reviewapp.review.rollups import COUNT_FIELDS, TAG_COUNT_FIELDS, rollups_missing

_SUMS = {name: Sum(name) for name in COUNT_FIELDS}


@lru_cache(maxsize=64)
def whole_hour_zone(zone) -> bool:
    """Whether the zone's offset from UTC has been whole hours on every day since 1990 and will be
    until 2040 (DST included): then each of its hours is one UTC hour."""
    start = datetime(1990, 1, 1, 12, tzinfo=UTC)
    return all(
        (start + timedelta(days=d)).astimezone(zone).utcoffset().total_seconds() % 3600 == 0 for d in range(18263)
    )


def _on_the_hour(moment: datetime | None) -> bool:
    return moment is None or moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0) == moment


def unanswerable(s: analysis.Slice) -> str:
    """Why the rollups cannot answer this slice; "" when they can."""
    if s.tag:
        return _("a tag filter")
    if s.outcome:
        return _("an outcome filter")
    if not (_on_the_hour(s.since_at) and _on_the_hour(s.until_before)):
        return _("a since or until that is not on the hour")
    if not whole_hour_zone(timezone.get_current_timezone()):
        return _("a time zone whose offset is not whole hours")
    if rollups_missing():
        return _("the rollups are not built yet (manage.py analysis_rollups_rebuild)")
    return ""


def page(s: analysis.Slice) -> tuple[analysis.Row, dict[str, list[analysis.Row]], str]:
    """The page's totals and rows (as analysis.page) and "" — or, for a slice the rollups cannot
    answer, the scan's and the reason."""
    reason = unanswerable(s)
    if reason:
        return (*analysis.page(s), reason)
    cameras = _cameras(s)
    acc = analysis.Accumulator()
    _time_rows(acc, s, cameras)
    _camera_rows(acc, s, cameras)
    total, rows = acc.rows()
    rows["tag"] = _tag_rows(s, cameras)
    return total, {name: rows[name] for name in analysis.DIMENSIONS}, ""


def model_versions() -> QuerySet:
    """The model versions of processed clips (the filter's choices), from the rollups."""
    return (
        AnalysisHour.objects.filter(clips__gt=0)
        .order_by("model_version")
        .values_list("model_version", flat=True)
        .distinct()
    )


# --------------------------------------------------------------------------------- queries


def _cameras(s: analysis.Slice) -> dict[int, tuple[str, int, str]] | None:
    """{camera id: (name, customer id, customer name)} the slice is limited to; None: all."""
    if not s.camera and s.customer is None:
        return None
    qs = Camera.objects.all()
    if s.camera:
        qs = qs.filter(name__in=s.camera)
    if s.customer is not None:
        qs = qs.filter(customer_id=s.customer)
    return {c[0]: c[1:] for c in qs.values_list("id", "name", "customer_id", "customer__name")}


def _narrowed(qs: QuerySet, s: analysis.Slice, cameras, *, start=None, end=None) -> QuerySet:
    """qs (a rollup with an `hour`) narrowed to the slice's cameras, classes, hour of day and the
    window [start, end) (the slice's own when not given)."""
    if cameras is not None:
        qs = qs.filter(camera_id__in=list(cameras))
    for name in ("resolution", "lighting", "model_version"):
        if getattr(s, name):
            qs = qs.filter(**{name: getattr(s, name)})
    start = start or s.since_at
    end = end or s.until_before
    if start is not None:
        qs = qs.filter(hour__gte=start)
    if end is not None:
        qs = qs.filter(hour__lt=end)
    if s.hour is not None and start is not None and end is not None and end - start <= timedelta(days=400):
        qs = qs.filter(hour__in=_utc_hours_at(s.hour, start, end))  # the index, not a zone per row
    elif s.hour is not None:
        qs = qs.annotate(local_hour=ExtractHour("hour", tzinfo=timezone.get_current_timezone())).filter(
            local_hour=s.hour
        )
    return qs


def _utc_hours_at(local_hour: int, start: datetime, end: datetime) -> list[datetime]:
    """The UTC hours of [start, end) that are `local_hour` o'clock in the viewer's zone."""
    zone = timezone.get_current_timezone()
    hour = start.astimezone(UTC)
    out = []
    while hour < end:
        if hour.astimezone(zone).hour == local_hour:
            out.append(hour)
        hour += timedelta(hours=1)
    return out


def _counts(row: dict, names=COUNT_FIELDS) -> tuple[int, ...]:
    return tuple(row[name] or 0 for name in names)


def _time_rows(acc: analysis.Accumulator, s: analysis.Slice, cameras) -> None:
    """Totals and the rows by hour of day, day, resolution, lighting and model version."""
    zone = timezone.get_current_timezone()
    base = AnalysisHour.objects.all() if cameras is None else AnalysisCell.objects.all()
    qs = (
        _narrowed(base, s, cameras)
        .annotate(h=ExtractHour("hour", tzinfo=zone), d=TruncDate("hour", tzinfo=zone))
        .values("h", "d", "resolution", "lighting", "model_version")
        .annotate(**_SUMS)
        .order_by()
    )
    for r in qs:
        keys = {"resolution": r["resolution"], "lighting": r["lighting"], "hour": r["h"]}
        acc.add(keys | {"model_version": r["model_version"], "day": r["d"]}, _counts(r))


def _camera_rows(acc: analysis.Accumulator, s: analysis.Slice, cameras) -> None:
    """The rows by camera and by customer (the camera's customer now, as the scan's)."""
    per_camera: dict[int, list[int]] = {}
    for camera_id, counts in _per_camera(s, cameras):
        into = per_camera.setdefault(camera_id, [0] * len(COUNT_FIELDS))
        for i, n in enumerate(counts):
            into[i] += n
    known = cameras or {
        c[0]: c[1:]
        for c in Camera.objects.filter(id__in=list(per_camera)).values_list(
            "id", "name", "customer_id", "customer__name"
        )
    }
    for camera_id, counts in per_camera.items():
        name, customer_id, customer = known[camera_id]
        acc.customers[customer_id] = customer
        acc.add({"camera": name, "customer": customer_id}, counts, total=False)


def _per_camera(s: analysis.Slice, cameras):
    """(camera id, counts) pairs summing to the slice's clips of each camera."""
    start, end = s.since_at, s.until_before
    first, last = _whole_days(start, end)
    if s.hour is not None or (first and last and first >= last):  # no whole UTC day: the hours
        for r in _grouped(_narrowed(AnalysisCell.objects.all(), s, cameras)):
            yield r["camera_id"], _counts(r)
        return
    days = _narrowed_days(AnalysisCameraDay.objects.all(), s, cameras, first, last)
    edges = []
    if first is not None and start is not None:
        edges.append((start, _midnight(first)))
    if last is not None and end is not None:
        edges.append((_midnight(last), end))
    parts = [_grouped(days)] + [
        _grouped(_narrowed(AnalysisCell.objects.all(), s, cameras, start=a, end=b)) for a, b in edges if a < b
    ]
    for part in parts:
        for r in part:
            yield r["camera_id"], _counts(r)


def _grouped(qs: QuerySet) -> QuerySet:
    return qs.values("camera_id").annotate(**_SUMS).order_by()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _whole_days(start: datetime | None, end: datetime | None) -> tuple[date | None, date | None]:
    """The UTC days wholly inside [start, end): from the first (included) to the last (excluded);
    None where the window is open."""
    first = last = None
    if start is not None:
        s = start.astimezone(UTC)
        first = s.date() if s == _midnight(s.date()) else s.date() + timedelta(days=1)
    if end is not None:
        last = end.astimezone(UTC).date()
    return first, last


def _narrowed_days(qs: QuerySet, s: analysis.Slice, cameras, first: date | None, last: date | None) -> QuerySet:
    if cameras is not None:
        qs = qs.filter(camera_id__in=list(cameras))
    for name in ("resolution", "lighting", "model_version"):
        if getattr(s, name):
            qs = qs.filter(**{name: getattr(s, name)})
    if first is not None:
        qs = qs.filter(day__gte=first)
    if last is not None:
        qs = qs.filter(day__lt=last)
    return qs


def _tag_rows(s: analysis.Slice, cameras) -> list[analysis.Row]:
    qs = (
        _narrowed(AnalysisTagCell.objects.all(), s, cameras)
        .values("tag__slug", "tag__name")
        .annotate(**{name: Sum(name) for name in TAG_COUNT_FIELDS})
        .order_by()
    )
    return analysis.tag_rows_sorted([analysis.tag_row(r) for r in qs])

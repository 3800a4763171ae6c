"""Per-camera drift: the distribution of clip scores and of detections per clip in the current
window against the camera's own baseline window.

Method: the Population Stability Index on fixed bins, flagged at DRIFT_PSI_THRESHOLD (0.25, the
usual "significant shift"). Why PSI and not a KS test:
* it is an effect size: a camera sends ~1,440 clips a day, and with thousands of clips a KS
  p-value calls a shift of a few hundredths "significant" (its power grows with n), while PSI
  stays put until the distribution really moves, whatever the volume;
* detections per clip are small integers with many ties, where KS (made for continuous data)
  is not exact; PSI on bins treats both measures the same way;
* it needs only per-bin counts: no clip scores leave the database, so the job scales with
  cameras x bins. The services keep the counts per camera and UTC hour as clips are processed
  (DriftHour, reviewapp/review/rollups.py; the bins are reviewapp/review/score_bins.py's), so
  the check sums a row per camera and hour (361 at the defaults) instead of reading every clip
  of the 15 days; until the rollups are built it counts the clips (the same bins, the same
  numbers).
The two-sample KS statistic of the scores (from the same 20 bins) and its asymptotic p-value
(scipy's `kstwo`) are stored beside it, shown on the page for context, never used to flag.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from django.conf import settings
from django.db import transaction
from django.db.models import Case, Count, F, IntegerField, Q, Sum, Value, When
from django.utils import timezone

from reviewapp.monitoring.models import CameraDrift
from reviewapp.review import rollups
from reviewapp.review.models import Camera, Clip, ReviewItem
from reviewapp.review.rollup_models import DriftHour
from reviewapp.review.score_bins import BOXES_BIN_FIELDS, DETECTION_EDGES, SCORE_BIN_FIELDS, SCORE_BINS, binned

log = logging.getLogger(__name__)

# SCORE_BINS (0.05 wide; PSI merges pairs into 10 bins of 0.1) and DETECTION_EDGES: score_bins.
DETECTION_LABELS = ["0", "1", "2", "3-4", "5-9", "10-19", "20+"]
SCORE_LABELS = [f"{i / 10:.1f}" for i in range(10)]
# Half a clip added to every bin (Jeffreys' prior) before taking shares: a bin that is empty by
# chance in a 24 h window of ~100 clips must not weigh like a vanished population (a floor of
# 1e-4 flagged steady cameras on exactly that in the benchmark), and log(0) never happens.
SMOOTHING = 0.5


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population Stability Index of two histograms (counts): sum (a - e) * ln(a / e) over the
    bins' smoothed shares."""
    e = (expected + SMOOTHING) / (expected.sum() + SMOOTHING * len(expected))
    a = (actual + SMOOTHING) / (actual.sum() + SMOOTHING * len(actual))
    return float(np.sum((a - e) * np.log(a / e)))


def ks_binned(expected: np.ndarray, actual: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic on binned data (max gap of the two CDFs) and its p-value."""
    n, m = expected.sum(), actual.sum()
    if not n or not m:
        return math.nan, math.nan
    d = float(np.max(np.abs(np.cumsum(expected) / n - np.cumsum(actual) / m)))
    n_eff = max(1, round(n * m / (n + m)))
    from scipy.stats import (
        kstwo,  # here: scipy costs ~1 s to import, and only the check needs it
    )

    return d, float(kstwo.sf(d, n_eff))


@dataclass
class Histograms:
    scores: dict[int, np.ndarray]  # camera id -> [baseline, current] x SCORE_BINS
    detections: dict[int, np.ndarray]  # camera id -> [baseline, current] x len(DETECTION_EDGES)
    score_sums: dict[int, np.ndarray]  # camera id -> [baseline, current] sum of scores


def hour_floor(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_ceil(at: datetime) -> datetime:
    floor = hour_floor(at)
    return floor if floor == at else floor + timedelta(hours=1)


def histograms(
    *, baseline_start: datetime, window_start: datetime, end: datetime, camera_ids: Sequence[int] | None = None
) -> Histograms:
    """Every camera's histograms (or only those of `camera_ids`): the baseline from `baseline_start`,
    the current window from `window_start`, until `end`. The ends are UTC hours, those of the
    rollups (the starts are taken down to the top of their hour, `end` up to the next one).
    From the rollups (DriftHour) once they are built, until then by one grouped query of the
    clips (the clip_recorded_at index): the same bins, the same numbers."""
    baseline_start, window_start, end = hour_floor(baseline_start), hour_floor(window_start), hour_ceil(end)
    if rollups.rollups_missing():
        log.info("drift: the rollups are not built yet, counting the clips")
        rows = _scan(baseline_start, window_start, end, camera_ids)
    else:
        rows = _from_rollups(baseline_start, window_start, end, camera_ids)
    scores: dict[int, np.ndarray] = defaultdict(lambda: np.zeros((2, SCORE_BINS)))
    sums: dict[int, np.ndarray] = defaultdict(lambda: np.zeros(2))
    detections: dict[int, np.ndarray] = defaultdict(lambda: np.zeros((2, len(DETECTION_EDGES))))
    for camera_id, current, score_counts, boxes_counts, total in rows:
        scores[camera_id][current] += score_counts
        sums[camera_id][current] += total or 0.0
        if boxes_counts.any():
            detections[camera_id][current] += boxes_counts
    return Histograms(dict(scores), dict(detections), dict(sums))


def _current(field: str, window_start: datetime):
    return Case(When(**{f"{field}__gte": window_start}, then=Value(1)), default=Value(0), output_field=IntegerField())


def _from_rollups(baseline_start, window_start, end, camera_ids):
    """(camera, current, score counts, boxes counts, score sum) from a row per camera and hour."""
    rows = DriftHour.objects.filter(hour__gte=baseline_start, hour__lt=end)
    if camera_ids is not None:
        rows = rows.filter(camera_id__in=camera_ids)
    columns = (*SCORE_BIN_FIELDS, *BOXES_BIN_FIELDS, "score_sum")
    for r in (
        rows.annotate(current=_current("hour", window_start))
        .values("camera_id", "current")
        .annotate(**{f"sum_{c}": Sum(c) for c in columns})
        .order_by()
        .values_list("camera_id", "current", *(f"sum_{c}" for c in columns))
    ):
        counts = np.array(r[2:-1], dtype=float)
        yield r[0], r[1], counts[:SCORE_BINS], counts[SCORE_BINS:], r[-1]


def _scan(baseline_start, window_start, end, camera_ids):
    """The same rows from the clips: one pass over the window for both histograms, not one GROUP
    BY each (at 10 M clips the 8 days are 2.7 M rows, each read took ~8 s, #13)."""
    clips = Clip.objects.filter(status=Clip.Status.DONE, recorded_at__gte=baseline_start, recorded_at__lt=end)
    if camera_ids is not None:
        clips = clips.filter(camera_id__in=camera_ids)
    for r in (
        binned(clips)
        .annotate(current=_current("recorded_at", window_start))
        .values("camera_id", "current", "score_bin", "boxes_bin")
        .annotate(n=Count("id"), total=Sum("raw_score"))
        .order_by()
    ):
        score_counts, boxes_counts = np.zeros(SCORE_BINS), np.zeros(len(DETECTION_EDGES))
        score_counts[int(r["score_bin"])] = r["n"]
        if r["boxes_bin"] is not None:
            boxes_counts[r["boxes_bin"]] = r["n"]
        yield r["camera_id"], r["current"], score_counts, boxes_counts, r["total"]


@dataclass
class CameraResult:
    camera_id: int
    baseline_clips: int
    current_clips: int
    psi_score: float | None
    psi_detections: float | None
    ks_statistic: float | None
    ks_pvalue: float | None
    baseline_mean: float | None
    current_mean: float | None

    @property
    def flagged(self) -> bool:
        limit = settings.DRIFT_PSI_THRESHOLD
        return any(v is not None and v >= limit for v in (self.psi_score, self.psi_detections))


def evaluate(camera_id: int, h: Histograms) -> CameraResult:
    scores = h.scores.get(camera_id, np.zeros((2, SCORE_BINS)))
    n_base, n_cur = int(scores[0].sum()), int(scores[1].sum())
    sums = h.score_sums.get(camera_id, np.zeros(2))
    enough = n_base >= settings.DRIFT_MIN_CLIPS and n_cur >= settings.DRIFT_MIN_CLIPS
    psi_s = psi_d = ks_d = ks_p = None
    if enough:
        coarse = scores.reshape(2, SCORE_BINS // 2, 2).sum(axis=2)
        psi_s = psi(coarse[0], coarse[1])
        ks_d, ks_p = ks_binned(scores[0], scores[1])
        dets = h.detections.get(camera_id)
        if dets is not None and dets[0].sum() >= settings.DRIFT_MIN_CLIPS and dets[1].sum() >= settings.DRIFT_MIN_CLIPS:
            psi_d = psi(dets[0], dets[1])
    return CameraResult(
        camera_id,
        n_base,
        n_cur,
        psi_s,
        psi_d,
        ks_d,
        ks_p,
        sums[0] / n_base if n_base else None,
        sums[1] / n_cur if n_cur else None,
    )


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def drift_check_all(*, now: datetime | None = None) -> int:
    """Check every camera and store its result (one row per camera, rewritten each run).
    Returns how many cameras are flagged."""
    now = now or timezone.now()
    window_start = hour_floor(now - timedelta(hours=settings.DRIFT_WINDOW_HOURS))  # UTC hours: histograms
    baseline_start = window_start - timedelta(days=settings.DRIFT_BASELINE_DAYS)
    h = histograms(baseline_start=baseline_start, window_start=window_start, end=now)
    existing = {d.camera_id: d for d in CameraDrift.objects.all()}
    flagged = 0
    rows = []
    for camera_id, camera_name in Camera.objects.values_list("id", "name"):
        r = evaluate(camera_id, h)
        previous = existing.get(camera_id)
        row = CameraDrift(camera_id=camera_id)  # upserted below, by camera
        was_flagged = bool(previous and previous.flagged)
        row.checked_at, row.window_start, row.baseline_start = now, window_start, baseline_start
        row.baseline_clips, row.current_clips = r.baseline_clips, r.current_clips
        row.psi_score, row.psi_detections = r.psi_score, r.psi_detections
        row.ks_statistic, row.ks_pvalue = r.ks_statistic, r.ks_pvalue
        row.baseline_mean_score, row.current_mean_score = r.baseline_mean, r.current_mean
        row.flagged = r.flagged
        row.flagged_since = (previous.flagged_since if was_flagged else now) if r.flagged else None
        if r.flagged and not was_flagged:
            log.warning(
                "camera %s drifted: PSI scores %s, boxes per clip %s",
                camera_name,
                _fmt(r.psi_score),
                _fmt(r.psi_detections),
            )
        flagged += r.flagged
        rows.append(row)
    fields = [
        "checked_at",
        "window_start",
        "baseline_start",
        "baseline_clips",
        "current_clips",
        "psi_score",
        "psi_detections",
        "ks_statistic",
        "ks_pvalue",
        "baseline_mean_score",
        "current_mean_score",
        "flagged",
        "flagged_since",
    ]
    # One INSERT ... ON CONFLICT (camera) DO UPDATE per 500 cameras. bulk_update built a CASE
    # expression per field and row: ~5 s of Python for 2,000 cameras (#13).
    CameraDrift.objects.bulk_create(
        rows, batch_size=500, update_conflicts=True, unique_fields=["camera"], update_fields=fields
    )
    return flagged


def drift_audit_sample(*, camera: Camera, size: int | None = None) -> int:
    """Send a random sample of the camera's current-window clips (not already in the review
    queue) to review as audit samples. Returns how many were queued."""
    from reviewapp.review.queue import review_item_enqueue

    size = size or settings.DRIFT_AUDIT_SAMPLE
    drift = CameraDrift.objects.filter(camera=camera).first()
    since = drift.window_start if drift else timezone.now() - timedelta(hours=settings.DRIFT_WINDOW_HOURS)
    candidates = list(
        Clip.objects.filter(camera=camera, status=Clip.Status.DONE, recorded_at__gte=since)
        .filter(~Q(id__in=ReviewItem.objects.values("clip_id")))
        .select_related("camera")
        .order_by("?")[:size]
    )
    with transaction.atomic():
        for clip in candidates:
            review_item_enqueue(clip=clip, reason=ReviewItem.Reason.AUDIT_SAMPLE)
        CameraDrift.objects.filter(camera=camera).update(
            audit_sent_at=timezone.now(), audit_sent=F("audit_sent") + len(candidates)
        )
    log.info("camera %s: %d clip(s) sent to review as an audit sample", camera.name, len(candidates))
    return len(candidates)


def bin_shares(camera_id: int, h: Histograms) -> dict:
    """Shares per bin for the page's small charts."""
    scores = h.scores.get(camera_id, np.zeros((2, SCORE_BINS))).reshape(2, SCORE_BINS // 2, 2).sum(axis=2)
    dets = h.detections.get(camera_id, np.zeros((2, len(DETECTION_EDGES))))

    def shares(row):
        total = row.sum()
        return list(row / total) if total else [0.0] * len(row)

    return {
        "scores": (shares(scores[0]), shares(scores[1])),
        "detections": (shares(dets[0]), shares(dets[1])),
    }

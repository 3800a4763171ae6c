"""The drift check from the rollups (#13): on clips processed, reprocessed and failed through the
services' one mechanism (rollups.clip_change), over several cameras and UTC hours, the
histograms and the stored results from DriftHour are exactly the scan's; the rebuild reproduces
what the services kept; the check scans until the rollups are built."""

import random
from datetime import UTC, datetime, timedelta
from unittest import mock

import numpy as np
import pytest
from django.core.management import call_command

from reviewapp.monitoring import drift
from reviewapp.monitoring.models import CameraDrift
from reviewapp.review import rollups
from reviewapp.review.models import Clip
from reviewapp.review.rollup_models import DriftHour
from tests.factories import CameraFactory, ClipFactory

NOW = datetime(2026, 11, 30, 12, 37, tzinfo=UTC)  # not on the hour: the windows' ends are UTC hours
# Scores on the bins' edges (0.05 steps, 1.0 in the last bin) and between them.
SCORES = [0.0, 0.05, 0.1, 0.15, 0.35, 0.5, 0.95, 1.0, 0.0001, 0.333, 0.72]
BOXES = [None, 0, 1, 2, 3, 4, 5, 9, 10, 19, 20, 300]


def decide(clip_id, rng, *, status=Clip.Status.DONE):
    """The worker's result (what it changes), through the rollups' one mechanism."""
    score = rng.choice(SCORES) if rng.random() < 0.5 else rng.random()
    suppressed = rng.choice([None, None, 0.0, score + 0.2 if score < 0.8 else score])  # a rule lowered `score`
    with rollups.clip_change(clip_id):
        Clip.objects.filter(id=clip_id).update(
            status=status,
            score=0.0 if suppressed and suppressed > score else score,
            suppressed_score=suppressed,
            alert=score >= 0.5,
            detections_count=rng.choice(BOXES),
        )


def scenario(*, seed=1, clips=500):
    """Three cameras; clips over the last 9 days and an hour (a few after NOW's hour began and a
    few before the baseline); a tenth reprocessed, a few failed."""
    rng = random.Random(seed)
    cameras = [CameraFactory(name=f"cam-{i}", threshold=0.5) for i in range(3)]
    ids = []
    for _ in range(clips):
        at = NOW - timedelta(minutes=rng.randrange(-20, 9 * 24 * 60 + 90))
        clip = ClipFactory(camera=rng.choice(cameras), recorded_at=at, status=Clip.Status.QUEUED, alert=None)
        decide(clip.id, rng, status=Clip.Status.FAILED if rng.random() < 0.03 else Clip.Status.DONE)
        ids.append(clip.id)
    for clip_id in rng.sample(ids, clips // 10):
        with rollups.clip_change(clip_id):
            Clip.objects.filter(id=clip_id).update(status=Clip.Status.QUEUED)
        decide(clip_id, rng)
    return cameras


@pytest.fixture
def small_windows(settings):
    settings.DRIFT_WINDOW_HOURS = 24
    settings.DRIFT_BASELINE_DAYS = 7
    settings.DRIFT_MIN_CLIPS = 20


def both_histograms(**window):
    with mock.patch.object(drift.rollups, "rollups_missing", return_value=True):
        scanned = drift.histograms(**window)
    return drift.histograms(**window), scanned


def assert_same(a: drift.Histograms, b: drift.Histograms):
    assert a.scores.keys() == b.scores.keys() and a.detections.keys() == b.detections.keys()
    for camera_id in a.scores:
        assert np.array_equal(a.scores[camera_id], b.scores[camera_id])
        assert a.score_sums[camera_id] == pytest.approx(b.score_sums[camera_id], abs=1e-9)
    for camera_id in a.detections:
        assert np.array_equal(a.detections[camera_id], b.detections[camera_id])


def stored():
    fields = ("baseline_clips", "current_clips", "psi_score", "psi_detections", "ks_statistic", "ks_pvalue")
    fields += ("baseline_mean_score", "current_mean_score", "flagged", "window_start", "baseline_start")
    return {d.camera_id: tuple(getattr(d, f) for f in fields) for d in CameraDrift.objects.all()}


def assert_same_results(a: dict, b: dict):
    assert a.keys() == b.keys()
    for camera_id, row in a.items():
        for x, y in zip(row, b[camera_id], strict=True):
            assert x == (pytest.approx(y, abs=1e-9) if isinstance(y, float) else y)


def test_the_rollups_give_the_scans_histograms(db, small_windows):
    cameras = scenario()
    assert not rollups.rollups_missing()  # the services kept them: the check reads them
    windows = [
        {"baseline_start": NOW - timedelta(days=8), "window_start": NOW - timedelta(hours=24), "end": NOW},
        {"baseline_start": NOW - timedelta(days=3, minutes=5), "window_start": NOW - timedelta(hours=7), "end": NOW},
        {"baseline_start": NOW - timedelta(days=9), "window_start": NOW - timedelta(days=2), "end": NOW},
        {"baseline_start": NOW - timedelta(days=8), "window_start": NOW - timedelta(hours=30), "end": NOW},
    ]
    for window in windows:
        from_rollups, from_scan = both_histograms(**window)
        assert_same(from_rollups, from_scan)
    only = {**windows[0], "camera_ids": [cameras[1].id]}
    from_rollups, from_scan = both_histograms(**only)
    assert_same(from_rollups, from_scan)
    assert list(from_rollups.scores) == [cameras[1].id]
    counted = sum(h.sum() for h in from_rollups.scores.values())
    assert 0 < counted < Clip.objects.filter(status=Clip.Status.DONE).count()


def test_the_check_stores_the_same_results_from_the_rollups_as_from_the_scan(db, small_windows):
    scenario(seed=2, clips=600)
    with mock.patch.object(drift.rollups, "rollups_missing", return_value=True):
        drift.drift_check_all(now=NOW)
    scanned = stored()
    CameraDrift.objects.all().delete()
    drift.drift_check_all(now=NOW)
    from_rollups = stored()
    assert len(from_rollups) == 3
    assert_same_results(from_rollups, scanned)
    assert all(row[2] is not None and row[3] is not None for row in from_rollups.values())  # both PSIs computed
    # The window starts at the top of the hour DRIFT_WINDOW_HOURS ago, the baseline 7 days before
    first = next(iter(from_rollups.values()))
    assert first[-2:] == (datetime(2026, 11, 29, 12, tzinfo=UTC), datetime(2026, 11, 22, 12, tzinfo=UTC))


def drift_rows():
    names = (*rollups.DRIFT.keys, *rollups.DRIFT.counts)
    rows = [tuple(round(v, 9) if isinstance(v, float) else v for v in r) for r in DriftHour.objects.values_list(*names)]
    return sorted(r for r in rows if any(r[2:]))


def test_the_rebuild_reproduces_what_the_services_kept(db):
    scenario(seed=3, clips=300)
    kept = drift_rows()
    assert len(kept) > 100 and sum(r[2] for r in kept) == Clip.objects.filter(status=Clip.Status.DONE).count()
    rollups.rollups_rebuild()
    assert drift_rows() == kept
    rollups.rollups_rebuild(since=(NOW - timedelta(days=2)).date())
    assert drift_rows() == kept


def test_processing_a_clip_moves_its_hour(db):
    rng = random.Random(5)
    camera = CameraFactory(name="cam")
    clip = ClipFactory(camera=camera, recorded_at=NOW, status=Clip.Status.QUEUED, alert=None, score=None)
    assert not DriftHour.objects.exists()  # not processed: counts for nothing
    decide(clip.id, rng)
    clip.refresh_from_db()
    row = DriftHour.objects.get()
    raw = max(clip.score, clip.suppressed_score or 0.0)
    assert (row.hour, row.camera_id, row.clips, row.score_sum) == (NOW.replace(minute=0), camera.id, 1, raw)
    assert getattr(row, f"score_{min(int(raw * 20), 19)}") == 1
    with rollups.clip_change(clip.id):  # reprocessed: out of its hour until the new result
        Clip.objects.filter(id=clip.id).update(status=Clip.Status.QUEUED)
    row.refresh_from_db()
    assert row.clips == 0 and row.score_sum == pytest.approx(0.0, abs=1e-12)
    assert not any(getattr(row, name) for name in rollups.DRIFT.counts[2:])


def test_the_check_counts_the_clips_until_the_rollups_are_built(db, small_windows):
    """Clips processed before DriftHour existed (the analysis rollups already built): the check
    scans, and `analysis_rollups_rebuild --if-empty` (the deploy) builds the drift's table too."""
    scenario(seed=4, clips=200)
    drift.drift_check_all(now=NOW)
    expected = stored()
    DriftHour.objects.all().delete()  # as right after the migration that made the table
    assert rollups.rollups_missing()
    CameraDrift.objects.all().delete()
    drift.drift_check_all(now=NOW)
    assert_same_results(stored(), expected)
    call_command("analysis_rollups_rebuild", "--if-empty")
    assert not rollups.rollups_missing() and DriftHour.objects.exists()

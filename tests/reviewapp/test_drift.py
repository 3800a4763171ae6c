"""Drift: a camera whose scores shift is flagged, one whose scores do not is not; the page, the
metric, the audit sample and the scheduled task."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from reviewapp.monitoring import drift, tasks
from reviewapp.monitoring.models import CameraDrift
from reviewapp.review.models import Clip, ReviewItem
from tests.factories import CameraFactory, ClipFactory, CustomerFactory
from tests.reviewapp.test_metrics import scrape, value

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def clips(camera, n, *, start, hours, score_mean, score_sd, boxes_mean, seed):
    """n processed clips spread over `hours` from `start`, scores ~ N(mean, sd) clipped to
    [0, 1], person boxes per clip ~ Poisson(boxes_mean)."""
    rng = np.random.default_rng(seed)
    scores = np.clip(rng.normal(score_mean, score_sd, n), 0, 1)
    boxes = rng.poisson(boxes_mean, n)
    built = [
        ClipFactory.build(
            camera=camera,
            recorded_at=start + timedelta(hours=hours * i / n),
            score=float(s),
            alert=bool(s >= camera.threshold),
            detections_count=int(b),
        )
        for i, (s, b) in enumerate(zip(scores, boxes))
    ]
    Clip.objects.bulk_create(built)


@pytest.fixture
def cameras(db, settings):
    """Two cameras with the same 14-day baseline (scores around 0.2, one box per clip); in the
    last 24 h `moved` scores around 0.45 with three boxes per clip (a camera that moved to face
    a busy street), `steady` keeps its distribution (fresh random draws)."""
    settings.DRIFT_WINDOW_HOURS = 24
    settings.DRIFT_BASELINE_DAYS = 14
    settings.DRIFT_MIN_CLIPS = 50
    customer = CustomerFactory(name="Acme")
    moved = CameraFactory(customer=customer, name="moved", threshold=0.5)
    steady = CameraFactory(customer=customer, name="steady", threshold=0.5)
    quiet = CameraFactory(customer=customer, name="quiet", threshold=0.5)
    baseline_start = NOW - timedelta(days=15)
    for seed, camera in enumerate((moved, steady)):
        clips(
            camera, 1400, start=baseline_start, hours=14 * 24, score_mean=0.2, score_sd=0.08, boxes_mean=1.0, seed=seed
        )
    clips(moved, 300, start=NOW - timedelta(hours=24), hours=24, score_mean=0.45, score_sd=0.1, boxes_mean=3.0, seed=10)
    clips(
        steady, 300, start=NOW - timedelta(hours=24), hours=24, score_mean=0.2, score_sd=0.08, boxes_mean=1.0, seed=11
    )
    clips(quiet, 10, start=NOW - timedelta(hours=24), hours=24, score_mean=0.9, score_sd=0.05, boxes_mean=5, seed=12)
    # Outside both windows: must not count
    clips(steady, 200, start=NOW - timedelta(days=40), hours=24, score_mean=0.9, score_sd=0.05, boxes_mean=8, seed=13)
    return moved, steady, quiet


def test_it_flags_the_camera_whose_scores_shift_and_not_the_steady_one(cameras, capsys):
    _moved, _steady, _quiet = cameras
    assert drift.drift_check_all(now=NOW) == 1
    m, s, q = (CameraDrift.objects.get(camera=c) for c in cameras)
    assert m.flagged and not s.flagged and not q.flagged
    assert (m.baseline_clips, m.current_clips, s.baseline_clips, s.current_clips) == (1400, 300, 1400, 300)
    assert m.psi_score > 1.0 and m.psi_detections > 0.5  # far above the 0.25 bound
    assert s.psi_score < 0.1 and s.psi_detections < 0.1  # the usual "no change" band
    assert m.ks_pvalue < 1e-10 and m.ks_statistic > 0.7
    assert m.baseline_mean_score == pytest.approx(0.2, abs=0.01) and m.current_mean_score == pytest.approx(
        0.45, abs=0.02
    )
    # Too few clips to say anything: not flagged, no PSI
    assert q.current_clips == 10 and q.psi_score is None
    with capsys.disabled():
        print(
            f"\n  drift fixture (1400 baseline / 300 current clips per camera):"
            f"\n    moved : PSI scores {m.psi_score:.3f}, PSI boxes {m.psi_detections:.3f}, KS D {m.ks_statistic:.3f} p {m.ks_pvalue:.1e}"
            f"\n    steady: PSI scores {s.psi_score:.3f}, PSI boxes {s.psi_detections:.3f}, KS D {s.ks_statistic:.3f} p {s.ks_pvalue:.2f}"
        )


def test_flagged_since_is_kept_while_flagged_and_cleared_after(cameras):
    moved = cameras[0]
    drift.drift_check_all(now=NOW)
    first = CameraDrift.objects.get(camera=moved).flagged_since
    drift.drift_check_all(now=NOW + timedelta(minutes=5))
    assert CameraDrift.objects.get(camera=moved).flagged_since == first
    # A day later the shifted clips are the baseline's edge and no new ones came: not enough clips
    drift.drift_check_all(now=NOW + timedelta(days=2))
    row = CameraDrift.objects.get(camera=moved)
    assert not row.flagged and row.flagged_since is None and row.psi_score is None


def test_psi_on_known_histograms():
    assert drift.psi(np.array([50, 50]), np.array([50, 50])) == 0
    # 50/50 -> 90/10, each bin + 0.5: e = (0.5, 0.5), a = (90.5, 10.5) / 101
    a1, a2 = 90.5 / 101, 10.5 / 101
    assert drift.psi(np.array([50, 50]), np.array([90, 10])) == pytest.approx(
        (a1 - 0.5) * np.log(a1 / 0.5) + (a2 - 0.5) * np.log(a2 / 0.5)
    )
    # a bin empty by chance in a small window weighs little; a population that vanished weighs a lot
    assert drift.psi(np.array([95, 5]), np.array([100, 0])) < 0.15  # (a floor of 1e-4 gave 0.31)
    assert drift.psi(np.array([50, 50]), np.array([100, 0])) > 2
    d, p = drift.ks_binned(np.array([10, 0, 0]), np.array([0, 0, 10]))
    assert d == 1 and p < 1e-3


def test_the_metric_counts_flagged_cameras(cameras, client, django_user_model):
    client.force_login(django_user_model.objects.create_user("op", is_staff=True))
    drift.drift_check_all(now=NOW)
    samples = scrape(client)
    assert value(samples, "vigia_cameras_drifting", camera_group="Acme") == 1
    assert ("vigia_drift_check_age_seconds", frozenset()) in samples


def test_an_audit_sample_goes_to_the_review_queue(cameras, settings):
    moved = cameras[0]
    drift.drift_check_all(now=NOW)
    already = Clip.objects.filter(camera=moved, recorded_at__gte=NOW - timedelta(hours=24)).first()
    ReviewItem.objects.create(clip=already, reason=ReviewItem.Reason.NEAR_THRESHOLD, priority=1)
    assert drift.drift_audit_sample(camera=moved, size=20) == 20
    items = ReviewItem.objects.filter(reason=ReviewItem.Reason.AUDIT_SAMPLE)
    assert items.count() == 20
    assert all(i.clip.camera_id == moved.id and i.clip.recorded_at >= NOW - timedelta(hours=24) for i in items)
    assert ReviewItem.objects.get(clip=already).reason == ReviewItem.Reason.NEAR_THRESHOLD  # left as it was
    row = CameraDrift.objects.get(camera=moved)
    assert row.audit_sent == 20 and row.audit_sent_at is not None
    # a second sample takes other clips
    assert drift.drift_audit_sample(camera=moved, size=20) == 20
    assert ReviewItem.objects.filter(reason=ReviewItem.Reason.AUDIT_SAMPLE).count() == 40


def test_the_page_shows_flagged_cameras_and_sends_an_audit_sample(cameras, world, client, settings):
    settings.DRIFT_AUDIT_SAMPLE = 5
    drift.drift_check_all(now=NOW)
    client.force_login(world.reviewer)
    response = client.get("/drift/")
    assert response.status_code == 200
    assert [d.camera.name for d in response.context["flagged"]] == ["moved"]
    assert {d.camera.name for d in response.context["others"]} >= {"steady", "quiet"}
    assert response.content.decode().count("<svg") == 2  # scores and boxes of the flagged camera
    response = client.post("/drift/moved/audit/")
    assert response.status_code == 302
    assert ReviewItem.objects.filter(reason=ReviewItem.Reason.AUDIT_SAMPLE, clip__camera__name="moved").count() == 5
    assert client.post("/drift/nope/audit/").status_code == 404
    assert client.get("/drift/moved/audit/").status_code == 405


def test_customers_cannot_see_drift_or_send_samples(cameras, world, client):
    drift.drift_check_all(now=NOW)
    client.force_login(world.customer_a)
    assert client.get("/drift/").status_code == 403
    assert client.post("/drift/moved/audit/").status_code == 403
    assert not ReviewItem.objects.exists()


def test_the_scheduled_task_runs_the_check(cameras, settings):
    assert settings.CELERY_BEAT_SCHEDULE["check-drift"]["task"] == "reviewapp.tasks.check_drift"
    tasks.check_drift()  # the task body: now is the real now, the fixture's clips are in the past
    assert CameraDrift.objects.count() == 3


def test_a_small_shift_on_many_clips_is_not_flagged_though_ks_calls_it_significant(db, settings, capsys):
    """Why PSI: a whole day of clips (1,440) makes KS's p-value tiny for a shift nobody needs to
    act on (mean score +0.02); PSI, an effect size, stays in the "no change" band."""
    settings.DRIFT_MIN_CLIPS = 50
    camera = CameraFactory(customer=CustomerFactory(name="Acme"), name="busy")
    clips(
        camera,
        1440 * 14,
        start=NOW - timedelta(days=15),
        hours=14 * 24,
        score_mean=0.2,
        score_sd=0.08,
        boxes_mean=1,
        seed=1,
    )
    clips(camera, 1440, start=NOW - timedelta(hours=24), hours=24, score_mean=0.22, score_sd=0.08, boxes_mean=1, seed=2)
    drift.drift_check_all(now=NOW)
    row = CameraDrift.objects.get(camera=camera)
    assert row.ks_pvalue < 1e-4  # "significant"
    assert row.psi_score < 0.1 and not row.flagged
    with capsys.disabled():
        print(
            f"\n  small shift, 20160 / 1440 clips: PSI scores {row.psi_score:.3f}, KS D {row.ks_statistic:.3f} p {row.ks_pvalue:.1e}"
        )


def test_the_command_prints_the_flagged_camera_first(cameras, monkeypatch):
    from io import StringIO

    from django.core.management import call_command

    real = drift.drift_check_all
    monkeypatch.setattr(drift, "drift_check_all", lambda: real(now=NOW))  # the fixture's clock
    out = StringIO()
    call_command("drift_check", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("FLAGGED moved: PSI scores")
    assert any(line.startswith("quiet: not enough clips") for line in lines)
    assert lines[-1] == "1 camera(s) flagged"


def test_a_suppression_rule_lowering_scores_is_not_drift(cameras):
    """A camera whose recent false positives a rule now suppresses scores lower (`score`), but
    its detector sees the same (`suppressed_score`): no drift."""
    steady = cameras[1]
    recent = Clip.objects.filter(camera=steady, recorded_at__gte=NOW - timedelta(hours=24))
    for clip in recent:
        Clip.objects.filter(id=clip.id).update(score=0.0, suppressed_score=clip.score)
    drift.drift_check_all(now=NOW)
    assert not CameraDrift.objects.get(camera=steady).flagged

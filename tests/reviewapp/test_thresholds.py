"""Per-camera threshold recommendations from reviewed clips, the page, and applying one."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from reviewapp.review.models import Camera, Review, ReviewItem
from reviewapp.tuning import tasks, thresholds
from reviewapp.tuning.models import ThresholdChange, ThresholdRecommendation
from tests.factories import ClipFactory


def reviewed(camera, reviewer, score, person, *, days_ago=1, verdicts=None):
    clip = ClipFactory(
        camera=camera,
        score=score,
        alert=score >= camera.threshold,
        recorded_at=timezone.now() - timedelta(days=days_ago),
    )
    item = ReviewItem.objects.create(clip=clip, reason=ReviewItem.Reason.AUDIT_SAMPLE, priority=2)
    for verdict in verdicts or ["person" if person else "no_person"]:
        Review.objects.create(item=item, clip=clip, verdict=verdict, reviewer=reviewer)
    return clip


@pytest.fixture
def evidence(world):
    """cam_a: 40 people scoring 0.55..0.94 and 40 false positives 0.30..0.69 (threshold 0.5).
    cam_b: 5 reviews only."""
    for i in range(40):
        reviewed(world.cam_a, world.reviewer, 0.55 + i / 100, True)
        reviewed(world.cam_a, world.reviewer, 0.30 + i / 100, False)
    for i in range(5):
        reviewed(world.cam_b, world.reviewer, 0.9, i % 2 == 0)
    return world


def login(user):
    client = Client()
    client.force_login(user)
    return client


def test_a_camera_with_enough_reviews_gets_its_own_recommendation_and_tradeoff(evidence):
    rec = thresholds.recommendation_refresh(camera=evidence.cam_a)
    # 99% of 40 people allows none lost: the lowest person, 0.55.
    assert rec.threshold == pytest.approx(0.55) and rec.fallback_reason == ""
    assert (rec.reviews, rec.positives, rec.negatives) == (80, 40, 40)
    t = rec.evidence["tradeoff"]
    assert t["false_alerts_removed"] == 5 and t["people_lost"] == 0  # 0.50..0.54 no longer alert
    rates = rec.evidence["rates"]
    assert rates["alerts_per_day_current"] > rates["alerts_per_day_proposed"] > 0


def test_only_the_latest_review_of_a_clip_counts(evidence):
    reviewed(evidence.cam_a, evidence.reviewer, 0.35, False, verdicts=["no_person", "person"])  # corrected
    rec = thresholds.recommendation_refresh(camera=evidence.cam_a)
    assert rec.positives == 41 and rec.threshold == pytest.approx(0.35)


def test_reviews_outside_the_window_are_not_evidence(evidence, settings):
    settings.THRESHOLD_WINDOW_DAYS = 30
    reviewed(evidence.cam_a, evidence.reviewer, 0.05, True, days_ago=60)
    assert thresholds.recommendation_refresh(camera=evidence.cam_a).threshold == pytest.approx(0.55)


def test_a_camera_with_too_few_reviews_falls_back_to_the_global_one_and_says_why(evidence):
    rec = thresholds.recommendation_refresh(camera=evidence.cam_b)
    global_rec = ThresholdRecommendation.objects.get(is_global=True)
    assert rec.threshold == global_rec.threshold == pytest.approx(0.55)
    assert "5 reviewed clips; at least 30 are needed" in rec.fallback_reason
    assert rec.evidence["scope"] == "global" and rec.reviews == 5


def test_no_reviews_anywhere_gives_no_recommendation_and_the_reason(world):
    rec = thresholds.recommendation_refresh(camera=world.cam_a)
    assert rec.threshold is None
    assert "0 reviewed clips" in rec.fallback_reason and "There is none either" in rec.fallback_reason
    page = login(world.reviewer).get(f"/thresholds/{world.cam_a.name}/").content.decode()
    assert 'id="apply"' not in page and "There is none either" in page


def test_the_beat_job_refreshes_every_camera_and_applies_nothing(evidence):
    assert tasks.refresh_threshold_recommendations() == 2
    assert ThresholdRecommendation.objects.count() == 3  # two cameras and the global one
    assert set(Camera.objects.values_list("threshold", flat=True)) == {0.5}
    assert not ThresholdChange.objects.exists()
    tasks.refresh_threshold_recommendations()  # again: updated in place
    assert ThresholdRecommendation.objects.count() == 3


def test_the_camera_page_draws_the_curve_and_apply_records_who_what_when_and_why(evidence):
    client = login(evidence.reviewer)
    page = client.get(f"/thresholds/{evidence.cam_a.name}/")
    html = page.content.decode()
    assert page.status_code == 200 and "<svg" in html and "recall (people kept)" in html
    assert 'id="fa-removed">5 ' in html and 'id="people-lost">0 ' in html
    rec = ThresholdRecommendation.objects.get(camera=evidence.cam_a)
    response = client.post(
        f"/thresholds/{evidence.cam_a.name}/apply/",
        {"recommendation": rec.id, "expected_threshold": "0.5", "note": "fewer alerts"},
    )
    assert response.status_code == 302
    evidence.cam_a.refresh_from_db()
    assert evidence.cam_a.threshold == pytest.approx(0.55)
    change = ThresholdChange.objects.get()
    assert (change.old_threshold, change.new_threshold, change.changed_by, change.note) == (
        0.5,
        pytest.approx(0.55),
        evidence.reviewer,
        "fewer alerts",
    )
    assert change.evidence["recommendation_id"] == rec.id and change.evidence["reviews"] == 80
    assert change.evidence["tradeoff"]["false_alerts_removed"] == 5
    assert "0.500 → 0.550" in client.get(f"/thresholds/{evidence.cam_a.name}/").content.decode()


def test_apply_refuses_when_the_threshold_changed_meanwhile_or_the_recommendation_is_not_this_cameras(evidence):
    client = login(evidence.reviewer)
    client.get(f"/thresholds/{evidence.cam_a.name}/")
    client.get(f"/thresholds/{evidence.cam_b.name}/")
    rec_a = ThresholdRecommendation.objects.get(camera=evidence.cam_a)
    rec_b = ThresholdRecommendation.objects.get(camera=evidence.cam_b)
    page = client.post(
        f"/thresholds/{evidence.cam_a.name}/apply/",
        {"recommendation": rec_a.id, "expected_threshold": "0.45"},
        follow=True,
    )
    assert "changed meanwhile" in page.content.decode()
    page = client.post(
        f"/thresholds/{evidence.cam_a.name}/apply/",
        {"recommendation": rec_b.id, "expected_threshold": "0.5"},
        follow=True,
    )
    assert "not this camera" in page.content.decode()
    page = client.post(f"/thresholds/{evidence.cam_a.name}/apply/", {"recommendation": "x"}, follow=True)
    assert "incomplete" in page.content.decode()
    evidence.cam_a.refresh_from_db()
    assert evidence.cam_a.threshold == 0.5 and not ThresholdChange.objects.exists()


def test_customers_never_see_thresholds(evidence):
    for user in (evidence.customer_a, evidence.customer_b, evidence.ingest):
        client = login(user)
        for url in ("/thresholds/", f"/thresholds/{evidence.cam_a.name}/"):
            assert client.get(url).status_code == 403
        assert (
            client.post(
                f"/thresholds/{evidence.cam_a.name}/apply/", {"recommendation": 1, "expected_threshold": 0.5}
            ).status_code
            == 403
        )
    assert login(evidence.reviewer).get("/thresholds/nope/").status_code == 404


def test_the_list_page_shows_every_camera_and_the_fallback(evidence):
    tasks.refresh_threshold_recommendations()
    html = login(evidence.operator).get("/thresholds/").content.decode()
    assert "acme-door" in html and "globex-gate" in html and "global (too few reviews)" in html


def test_a_threshold_typed_in_the_admin_is_recorded_too(evidence):
    from django.contrib.auth.models import Permission

    evidence.operator.user_permissions.add(*Permission.objects.filter(codename__endswith="camera"))
    client = login(evidence.operator)
    cam = evidence.cam_a
    response = client.post(
        f"/admin/reviewapp/camera/{cam.id}/change/",
        {
            "customer": cam.customer_id,
            "name": cam.name,
            "threshold": "0.42",
            "review_band": "0.15",
            "width": "",
            "height": "",
        },
    )
    assert response.status_code == 302
    change = ThresholdChange.objects.get()
    assert (change.old_threshold, change.new_threshold, change.changed_by, change.evidence) == (
        0.5,
        0.42,
        evidence.operator,
        {"source": "admin"},
    )


def test_the_command_prints_the_recommendations_and_applies_nothing(evidence):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("recommend_thresholds", stdout=out)
    text = out.getvalue()
    assert "all cameras: recommended 0.550 from 85 reviewed clips" in text
    row = next(line for line in text.splitlines() if line.startswith("acme-door"))
    assert row.split()[:7] == ["acme-door", "0.500", "0.550", "camera", "80", "5", "0"]
    assert "globex-gate" in text and "5 reviewed clips; at least 30 are needed" in text
    assert set(Camera.objects.values_list("threshold", flat=True)) == {0.5}

"""Holes found in review (issue 12), each closed and kept closed: what customers see of a clip,
deep JSON, the alert list's cap and query count, open redirects, non-finite numbers."""

import pytest
from django.test import Client

from reviewapp.review.models import Detection, Review
from tests.conftest import api_client
from tests.factories import ClipFactory, ReviewItemFactory
from tests.reviewapp.test_metrics import _rule

SECRET_NOTE = "note-for-reviewers-only"
SECRET_ERROR = "decoder failed at /srv/vigia/internal"


@pytest.fixture
def reviewed_clip(world, video, settings):
    """Customer A's clip, reviewed by rita with a note, one detection suppressed by a rule, an error kept."""
    from pathlib import Path

    clip = ClipFactory(camera=world.cam_a, score=0.6, alert=True, error=SECRET_ERROR)
    target = Path(settings.MEDIA_ROOT) / clip.file.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(video().read_bytes())
    item = ReviewItemFactory(clip=clip)
    Review.objects.create(item=item, clip=clip, verdict="person", reviewer=world.reviewer, note=SECRET_NOTE)
    rule = _rule(world.cam_a)
    Detection.objects.create(clip=clip, frame_index=0, frame_time=0, x1=1, y1=1, x2=9, y2=9, score=0.7)
    Detection.objects.create(
        clip=clip, frame_index=1, frame_time=0.1, x1=1, y1=1, x2=9, y2=9, score=0.5, suppressed_by=rule
    )
    clip.rule_id = rule.id
    return clip


def _page(user, url):
    client = Client()
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("url", ["/clips/{clip}/", "/alerts/{clip}/"])
def test_a_customers_clip_page_shows_no_reviewer_note_error_or_rule(world, reviewed_clip, url):
    html = _page(world.customer_a, url.format(clip=reviewed_clip.id))
    assert world.reviewer.username not in html
    assert SECRET_NOTE not in html
    assert SECRET_ERROR not in html
    assert "suppressed by rule" not in html and f"#rule-{reviewed_clip.rule_id}" not in html


def test_a_reviewers_clip_page_still_shows_them(world, reviewed_clip):
    html = _page(world.reviewer, f"/clips/{reviewed_clip.id}/")
    assert world.reviewer.username in html and SECRET_NOTE in html and SECRET_ERROR in html
    assert f"#rule-{reviewed_clip.rule_id}" in html


INTERNALS = {"error", "score", "model_version", "review", "detections", "decode_ms", "detect_ms", "external_id"}


def test_a_customers_api_clip_shows_what_alerted_and_no_internals(world, reviewed_clip):
    body = api_client(world.customer_a).get(f"/api/v1/clips/{reviewed_clip.id}/").json()
    assert not INTERNALS & set(body) and SECRET_ERROR not in str(body) and SECRET_NOTE not in str(body)
    assert world.reviewer.username not in str(body)
    # The deciding box (0.7, frame 0; the 0.5 one was suppressed), in fractions of the 640x480 frame.
    assert body["what_alerted"] == {"time": 0.0, "left": 0.0016, "top": 0.0021, "width": 0.0125, "height": 0.0167}
    assert body["reported"] is False and body["status"] == "done" and body["verdict"] == "person"
    listed = api_client(world.customer_a).get("/api/v1/alerts/").json()["results"]
    assert [c["id"] for c in listed] == [str(reviewed_clip.id)] and not INTERNALS & set(listed[0])
    assert listed[0]["what_alerted"] == body["what_alerted"]
    reported = api_client(world.customer_a).post(f"/api/v1/clips/{reviewed_clip.id}/false-alert/", {"reason": "a dog"})
    assert reported.status_code == 201 and reported.json()["reported"] is True
    assert not INTERNALS & set(reported.json())
    clips = api_client(world.customer_a).get("/api/v1/clips/").json()["results"]
    assert not INTERNALS & set(clips[0])
    reviewer_view = api_client(world.reviewer).get(f"/api/v1/clips/{reviewed_clip.id}/").json()
    assert reviewer_view["error"] == SECRET_ERROR
    assert reviewed_clip.rule_id in [d["suppressed_by"] for d in reviewer_view["detections"]]


# ------------------------------------------------------------------------------- deep JSON


@pytest.mark.parametrize(
    "who, url", [("reviewer", "/api/v1/review/{item}/decision/"), ("customer_a", "/api/v1/clips/{clip}/false-alert/")]
)
def test_deeply_nested_json_is_a_400_in_the_error_shape(world, who, url):
    clip = ClipFactory(camera=world.cam_a, score=0.6, alert=True)
    item = ReviewItemFactory(clip=clip)
    response = api_client(getattr(world, who)).post(
        url.format(item=item.id, clip=clip.id), "[" * 5000, content_type="application/json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "parse_error" and "nested too deeply" in error["message"]


# ------------------------------------------------------------------------------ alert list


def _alerts(world, n):
    for _ in range(n):
        clip = ClipFactory(camera=world.cam_a, score=0.6, alert=True)
        item = ReviewItemFactory(clip=clip)
        review = Review.objects.create(item=item, clip=clip, verdict="person", reviewer=world.reviewer)
        review.tags.set(world.tags[:1])


@pytest.fixture
def tagged_world(world):
    from reviewapp.review.models import Tag

    world.tags = list(Tag.objects.all())
    return world


def test_the_alert_list_is_capped(tagged_world):
    _alerts(tagged_world, 205)
    body = api_client(tagged_world.customer_a).get("/api/v1/alerts/?limit=100000").json()
    assert body["count"] == 205 and len(body["results"]) == 200


@pytest.mark.parametrize("n", [3, 30])
def test_the_alert_list_runs_the_same_queries_for_3_or_30_clips(tagged_world, n, django_assert_max_num_queries):
    _alerts(tagged_world, n)
    client = api_client(tagged_world.customer_a)
    with django_assert_max_num_queries(8):
        body = client.get("/api/v1/alerts/?limit=50").json()
    assert len(body["results"]) == n
    assert all(c["verdict"] == "person" and c["what_alerted"] is None for c in body["results"])


# ----------------------------------------------------------------------- open redirect


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "http://evil.example"])
def test_review_decide_never_redirects_off_site(world, target):
    clip = ClipFactory(camera=world.cam_a, score=0.6, alert=True)
    item = ReviewItemFactory(clip=clip)
    client = Client()
    client.force_login(world.reviewer)
    response = client.post(f"/review/{item.id}/decide/", {"verdict": "person", "next": target})
    assert response.status_code == 302 and response["Location"] == "/review/"
    bad = client.post(f"/review/{item.id}/decide/", {"verdict": "nonsense", "next": target})  # the error path
    assert bad.status_code == 302 and bad["Location"] == "/review/"


def test_review_decide_goes_back_to_a_page_of_the_site(world):
    clip = ClipFactory(camera=world.cam_a, score=0.6, alert=True)
    item = ReviewItemFactory(clip=clip)
    client = Client()
    client.force_login(world.reviewer)
    response = client.post(f"/review/{item.id}/decide/", {"verdict": "person", "next": f"/clips/{clip.id}/"})
    assert response["Location"] == f"/clips/{clip.id}/"


# ------------------------------------------------------------------- non-finite numbers


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e10", "x", ""])
def test_a_threshold_apply_with_a_non_finite_expected_threshold_is_a_400_and_changes_nothing(world, value):
    from django.utils import timezone

    from reviewapp.tuning.models import ThresholdChange, ThresholdRecommendation

    rec = ThresholdRecommendation.objects.create(
        camera=world.cam_a, threshold=0.3, target_recall=0.99, evidence={}, computed_at=timezone.now()
    )
    client = Client()
    client.force_login(world.reviewer)
    response = client.post(
        f"/thresholds/{world.cam_a.name}/apply/", {"recommendation": rec.id, "expected_threshold": value}
    )
    assert response.status_code == 400
    world.cam_a.refresh_from_db()
    assert world.cam_a.threshold != 0.3 and not ThresholdChange.objects.exists()


@pytest.mark.parametrize("value", ["nan", "inf", "1e10", "3651"])
def test_a_rule_expiry_that_is_not_a_usable_number_is_a_400(world, value):
    from reviewapp.tuning.models import SuppressionRule

    rule = _rule(world.cam_a)
    client = Client()
    client.force_login(world.reviewer)
    response = client.post(f"/rules/{rule.id}/", {"action": "save", "expires_in_days": value})
    assert response.status_code == 400 and "expires_in_days" in response.content.decode()
    assert SuppressionRule.objects.get(id=rule.id).expires_at is None


# --------------------------------------------------------------------------- ingest role


def test_the_ingest_role_finds_its_clips_in_the_list_and_reads_nothing_of_them(world, reviewed_clip):
    client = api_client(world.ingest)
    listed = client.get("/api/v1/clips/").json()["results"]
    assert [c["id"] for c in listed] == [str(reviewed_clip.id)]
    assert set(listed[0]) == {"id", "camera", "recorded_at", "external_id", "status", "created_at"}
    assert client.get(f"/api/v1/clips/{reviewed_clip.id}/").status_code == 404

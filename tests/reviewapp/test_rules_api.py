"""The decision API with "suppress_similar", and the rules pages: bad input is a 400 in the one
error shape and stores nothing; rules are reviewer/operator business only."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from inference.suppression import describe
from reviewapp.review import queue
from reviewapp.review.models import Review, ReviewItem
from reviewapp.tuning.models import SuppressionRule
from tests.conftest import api_client
from tests.factories import ClipFactory, clip_detail_write
from tests.scenes import OBJECT_BOX, background, with_object


def clip_with_cat(camera, *, scores=(0.62, 0.6, 0.58), suppressed_by=None, extra=()):
    """A processed clip whose detections are the cat of tests/scenes.py, in several frames (and
    the `extra` boxes: dicts as tests.factories.clip_detail_write takes)."""
    clip = ClipFactory(camera=camera, score=max(scores, default=0.0), alert=True)
    frame = with_object(background(0))
    clip_detail_write(
        clip,
        [
            dict(
                frame_index=i,
                frame_time=i / 2,
                x1=OBJECT_BOX[0] + i,
                y1=OBJECT_BOX[1],
                x2=OBJECT_BOX[2],
                y2=OBJECT_BOX[3],
                score=s,
                descriptor=describe(frame, OBJECT_BOX),
                **({"suppressed_by": suppressed_by} if suppressed_by else {}),
            )
            for i, s in enumerate(scores)
        ]
        + list(extra),
    )
    return clip, queue.review_item_enqueue(clip=clip, reason=ReviewItem.Reason.CUSTOMER_REPORT)


def decide(user, item, payload):
    return api_client(user).post(f"/api/v1/review/{item.id}/decision/", payload, format="json")


def assert_nothing_stored(item):
    item.refresh_from_db()
    assert item.state == ReviewItem.State.OPEN
    assert not Review.objects.filter(item=item).exists() and not SuppressionRule.objects.exists()


def test_it_makes_one_rule_per_place_from_the_false_detections(world):
    _clip, item = clip_with_cat(world.cam_a)
    response = decide(world.reviewer, item, {"verdict": "no_person", "tags": ["cone"], "suppress_similar": True})
    assert response.status_code == 201
    rule = SuppressionRule.objects.get()
    assert rule.source_detections == 3 and rule.source_score == pytest.approx(0.62)
    assert (rule.x1, rule.y2) == pytest.approx((OBJECT_BOX[0] / 640 + 1 / 640, OBJECT_BOX[3] / 480))


def test_without_suppress_similar_no_rule_is_made(world):
    _clip, item = clip_with_cat(world.cam_a)
    assert decide(world.reviewer, item, {"verdict": "no_person", "tags": ["car"]}).status_code == 201
    assert not SuppressionRule.objects.exists()


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"verdict": "person", "suppress_similar": True}, "suppress_similar"),
        ({"verdict": "no_person", "tags": ["cone", "unicorn"], "suppress_similar": True}, "tags"),
        ({"verdict": "no_person", "suppress_similar": "maybe"}, "suppress_similar"),
        ({"verdict": "nobody", "suppress_similar": True}, "verdict"),
        ({"suppress_similar": True}, "verdict"),
    ],
)
def test_a_bad_decision_payload_is_a_400_and_stores_nothing(world, payload, field):
    _clip, item = clip_with_cat(world.cam_a)
    response = decide(world.reviewer, item, payload)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and field in error["fields"]
    assert_nothing_stored(item)


def test_suppressing_a_clip_with_nothing_to_suppress_is_a_400_and_the_review_is_not_stored(world):
    _clip, item = clip_with_cat(world.cam_a, scores=(0.2,))  # below threshold 0.5 - band 0.15
    response = decide(world.reviewer, item, {"verdict": "no_person", "suppress_similar": True})
    assert response.status_code == 400 and response.json()["error"]["code"] == "nothing_to_suppress"
    assert_nothing_stored(item)


def test_only_reviewers_decide(world):
    _clip, item = clip_with_cat(world.cam_a)
    for user in (world.customer_a, world.ingest):
        assert decide(user, item, {"verdict": "no_person", "suppress_similar": True}).status_code == 403
    assert_nothing_stored(item)


def test_the_reviewer_page_form_suppresses_too(world):
    _clip, item = clip_with_cat(world.cam_a)
    client = Client()
    client.force_login(world.reviewer)
    page = client.get("/review/").content.decode()
    assert 'id="suppress-similar"' in page and 'value="cone" data-key="5" data-static="1"' in page
    client.post(f"/review/{item.id}/decide/", {"verdict": "no_person", "tags": ["cone"], "suppress_similar": "1"})
    assert SuppressionRule.objects.filter(camera=world.cam_a, created_by=world.reviewer).count() == 1


def test_the_page_shows_the_error_and_stores_nothing_for_person_with_suppress(world):
    _clip, item = clip_with_cat(world.cam_a)
    client = Client()
    client.force_login(world.reviewer)
    response = client.post(f"/review/{item.id}/decide/", {"verdict": "person", "suppress_similar": "1"}, follow=True)
    assert "only a &#x27;no person&#x27; decision can suppress" in response.content.decode()
    assert_nothing_stored(item)


def test_a_clip_page_shows_suppressed_detections_and_their_rule(world):
    _clip, item = clip_with_cat(world.cam_a)
    decide(world.reviewer, item, {"verdict": "no_person", "suppress_similar": True})
    rule = SuppressionRule.objects.get()
    later, _ = clip_with_cat(world.cam_a, suppressed_by=rule.id)
    client = Client()
    client.force_login(world.reviewer)
    page = client.get(f"/clips/{later.id}/").content.decode()
    assert "suppressed by rule <a" in page and f"#rule-{rule.id}" in page
    detail = api_client(world.reviewer).get(f"/api/v1/clips/{later.id}/").json()
    assert {d["suppressed_by"] for d in detail["detections"]} == {rule.id}


# ------------------------------------------------------------------------------ rules pages


@pytest.fixture
def rule(world):
    _clip, item = clip_with_cat(world.cam_a)
    decide(world.reviewer, item, {"verdict": "no_person", "suppress_similar": True})
    return SuppressionRule.objects.get()


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_reviewers_and_operators_list_disable_and_edit_rules(world, rule):
    for user in (world.reviewer, world.operator):
        page = logged_in(user).get("/rules/").content.decode()
        assert f'id="rule-{rule.id}"' in page and "acme-door" in page
    client = logged_in(world.reviewer)
    client.post(f"/rules/{rule.id}/", {"action": "disable"})
    rule.refresh_from_db()
    assert rule.active is False
    assert f'id="rule-{rule.id}"' not in client.get("/rules/").content.decode()  # active only by default
    assert f'id="rule-{rule.id}"' in client.get("/rules/?show=all").content.decode()
    client.post(
        f"/rules/{rule.id}/",
        {"action": "save", "expires_in_days": "0", "iou_min": "0.6", "similarity_min": "0.9", "note": "the red car"},
    )
    rule.refresh_from_db()
    assert (rule.expires_at, rule.iou_min, rule.similarity_min, rule.note) == (None, 0.6, 0.9, "the red car")
    client.post(f"/rules/{rule.id}/", {"action": "save", "expires_in_days": "2"})
    rule.refresh_from_db()
    assert timedelta(days=1.9) < rule.expires_at - timezone.now() <= timedelta(days=2)


@pytest.mark.parametrize("field, value", [("iou_min", "1.5"), ("similarity_min", "x"), ("expires_in_days", "-1")])
def test_bad_rule_edits_change_nothing_and_say_why(world, rule, field, value):
    before = SuppressionRule.objects.values().get(id=rule.id)
    response = logged_in(world.reviewer).post(f"/rules/{rule.id}/", {"action": "save", field: value}, follow=True)
    assert field in response.content.decode()
    after = SuppressionRule.objects.values().get(id=rule.id)
    assert {k: v for k, v in after.items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"
    }


def test_customers_and_anonymous_users_cannot_see_or_touch_rules(world, rule):
    for user in (world.customer_a, world.customer_b, world.ingest):
        client = logged_in(user)
        assert client.get("/rules/").status_code == 403
        assert client.post(f"/rules/{rule.id}/", {"action": "disable"}).status_code == 403
    assert Client().get("/rules/").status_code == 302  # to the login page
    rule.refresh_from_db()
    assert rule.active


def test_the_next_parameter_never_redirects_off_site(world, rule):
    response = logged_in(world.reviewer).post(
        f"/rules/{rule.id}/", {"action": "disable", "next": "https://evil.example/"}
    )
    assert response["Location"] == "/rules/"


def test_an_operator_edits_rules_in_the_admin(world, rule):
    from django.contrib.auth.models import Permission

    world.operator.user_permissions.add(*Permission.objects.filter(codename__endswith="suppressionrule"))
    client = logged_in(world.operator)
    assert f"rule {rule.id} (acme-door)" in client.get("/admin/reviewapp/suppressionrule/").content.decode()
    page = client.get(f"/admin/reviewapp/suppressionrule/{rule.id}/change/")
    assert page.status_code == 200
    form = {k: v for k, v in page.context["adminform"].form.initial.items() if v is not None and k != "descriptor"}
    form.update(camera=rule.camera_id, active="", note="disabled in the admin")
    form.pop("expires_at", None)
    response = client.post(f"/admin/reviewapp/suppressionrule/{rule.id}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    rule.refresh_from_db()
    assert rule.active is False and rule.note == "disabled in the admin"


# ------------------------------------------------------------------ which rules the worker uses


def test_the_worker_uses_active_unexpired_unflagged_rules_of_the_current_descriptor_only(world, rule, settings):
    from reviewapp.tuning.suppression import rules_for_camera

    assert [r.id for r in rules_for_camera(camera=world.cam_a)] == [rule.id]
    assert rules_for_camera(camera=world.cam_b) == []
    SuppressionRule.objects.filter(id=rule.id).update(flagged=True)
    assert rules_for_camera(camera=world.cam_a) == []
    settings.SUPPRESSION_PAUSE_FLAGGED = False
    assert [r.id for r in rules_for_camera(camera=world.cam_a)] == [rule.id]
    SuppressionRule.objects.filter(id=rule.id).update(descriptor_version=0)  # made by an older describe()
    assert rules_for_camera(camera=world.cam_a) == []
    SuppressionRule.objects.filter(id=rule.id).update(descriptor_version=1, expires_at=timezone.now())
    assert rules_for_camera(camera=world.cam_a) == []


def test_hits_are_counted_once_per_clip_and_a_deleted_rule_is_skipped(world, rule):
    from reviewapp.tuning.suppression import suppression_hits_record

    now = timezone.now()
    assert suppression_hits_record(rule_ids=[rule.id, rule.id, 999999], now=now) == {rule.id}
    rule.refresh_from_db()
    assert rule.hits == 1 and rule.last_hit_at == now


def test_a_person_verdict_on_the_clip_a_rule_was_made_from_flags_it(world, rule):
    item = rule.source_review.item
    ReviewItem.objects.filter(id=item.id).update(state=ReviewItem.State.OPEN)
    assert decide(world.reviewer2, item, {"verdict": "person"}).status_code == 201
    rule.refresh_from_db()
    assert rule.flagged and "confirmed as a person by rob" in rule.flag_reason
    client = logged_in(world.reviewer)
    client.post(f"/rules/{rule.id}/", {"action": "clear_flag"})
    rule.refresh_from_db()
    assert not rule.flagged and "cleared by rita" in rule.flag_reason


def test_the_refresh_job_is_scheduled_and_registered(settings):
    from reviewapp.project.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["refresh-threshold-recommendations"]
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks and entry["schedule"] == settings.THRESHOLD_REFRESH_SECONDS


def test_the_review_page_shows_every_place_it_would_cover_and_the_review_makes_a_rule_for_each(world):
    """A clip that alerted because of several static things: the cat (alerting) and a 12 px blob
    at the top edge under the threshold but within the jitter of it. The page lists both before
    the decision; the decision makes both rules; a box under the floor makes none."""
    from django.conf import settings

    from inference.suppression import rule_floor
    from tests.scenes import TINY_BOX

    frame = with_object(background(0))
    floor = rule_floor(world.cam_a.threshold, world.cam_a.review_band, settings.SUPPRESSION_JITTER)
    extra = [
        {"frame_index": 0, "frame_time": 0, "x1": c[0], "y1": c[1], "x2": c[2], "y2": c[3], "score": score,
         "descriptor": describe(frame, c)}
        for score, c in ((floor + 0.01, TINY_BOX), (floor - 0.01, (10, 300, 60, 400)))
    ]  # fmt: skip
    _clip, item = clip_with_cat(world.cam_a, extra=extra)
    client = Client()
    client.force_login(world.reviewer)
    page = client.get("/review/").content.decode()
    assert 'id="rule-preview"' in page and page.count('class="rule-preview') == 2
    assert f'data-box="{",".join(map(str, TINY_BOX))}"' in page and "small: told by its surroundings" in page
    assert "made this clip alert" in page
    response = decide(world.reviewer, item, {"verdict": "no_person", "tags": ["other"], "suppress_similar": True})
    assert response.status_code == 201
    assert SuppressionRule.objects.count() == 2
    small = SuppressionRule.objects.order_by("source_score").first()
    assert small.source_score == pytest.approx(floor + 0.01) and small.similarity_min == pytest.approx(0.75)

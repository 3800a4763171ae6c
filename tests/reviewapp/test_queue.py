import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from reviewapp.review import queue
from reviewapp.review.models import Review, ReviewItem
from tests.conftest import api_client
from tests.factories import CameraFactory, ClipFactory, clip_detail_write, make_user


def item(camera, score, reason=ReviewItem.Reason.NEAR_THRESHOLD):
    clip = ClipFactory(camera=camera, score=score, alert=score >= camera.threshold)
    return queue.review_item_enqueue(clip=clip, reason=reason)


def test_customer_reports_come_first_then_the_clips_closest_to_the_threshold(world):
    far = item(world.cam_a, 0.62)
    close = item(world.cam_a, 0.51)
    audit = item(world.cam_b, 0.50, ReviewItem.Reason.AUDIT_SAMPLE)
    reported = item(world.cam_b, 0.95, ReviewItem.Reason.CUSTOMER_REPORT)
    order = [queue.review_next(reviewer=make_user(f"r{i}", "reviewer")) for i in range(5)]
    assert [o.id if o else None for o in order] == [reported.id, close.id, far.id, audit.id, None]


def test_a_reviewer_gets_back_the_item_they_hold(world):
    first = item(world.cam_a, 0.55)
    item(world.cam_a, 0.56)
    assert queue.review_next(reviewer=world.reviewer).id == first.id
    assert queue.review_next(reviewer=world.reviewer).id == first.id


def test_an_item_is_not_handed_to_a_second_reviewer_until_the_claim_expires(world):
    only = item(world.cam_a, 0.55)
    assert queue.review_next(reviewer=world.reviewer).id == only.id
    assert queue.review_next(reviewer=world.reviewer2) is None
    ReviewItem.objects.filter(id=only.id).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert queue.review_next(reviewer=world.reviewer2).id == only.id


def test_a_skipped_item_goes_to_someone_else(world):
    only = item(world.cam_a, 0.55)
    queue.review_next(reviewer=world.reviewer)
    queue.review_skip(item=only, reviewer=world.reviewer)
    assert queue.review_next(reviewer=world.reviewer) is None
    assert queue.review_next(reviewer=world.reviewer2).id == only.id


def test_a_decision_closes_the_item_and_the_latest_decision_wins(world):
    it = item(world.cam_a, 0.55)
    client = api_client(world.reviewer)
    client.get("/api/v1/review/next/")
    first = client.post(f"/api/v1/review/{it.id}/decision/", {"verdict": "person"}, format="json")
    assert first.status_code == 201
    it.refresh_from_db()
    assert it.state == ReviewItem.State.DONE and it.claimed_by is None
    assert api_client(world.reviewer).get("/api/v1/review/next/").status_code == 204

    second = api_client(world.reviewer2).post(
        f"/api/v1/review/{it.id}/decision/",
        {"verdict": "no_person", "tags": ["dog", "light-shadow"], "note": "dog at night"},
        format="json",
    )
    assert second.status_code == 201
    assert Review.objects.filter(clip=it.clip).count() == 2
    clip = api_client(world.reviewer).get(f"/api/v1/clips/{it.clip_id}/").json()
    assert clip["review"]["verdict"] == "no_person"
    assert clip["review"]["tags"] == ["dog", "light-shadow"]


def test_a_reviewer_cannot_decide_an_item_someone_else_holds(world):
    it = item(world.cam_a, 0.55)
    queue.review_next(reviewer=world.reviewer)
    response = api_client(world.reviewer2).post(
        f"/api/v1/review/{it.id}/decision/", {"verdict": "person"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "claimed"
    assert not Review.objects.exists()


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"verdict": "maybe"}, "verdict"),
        ({}, "verdict"),
        ({"verdict": "no_person", "tags": ["unicorn"]}, "tags"),
        ({"verdict": "no_person", "tags": "dog"}, "tags"),
        ({"verdict": "person", "note": "x" * 2001}, "note"),
    ],
)
def test_a_bad_decision_is_refused_and_nothing_is_stored(world, payload, field):
    it = item(world.cam_a, 0.55)
    response = api_client(world.reviewer).post(f"/api/v1/review/{it.id}/decision/", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Review.objects.exists()
    it.refresh_from_db()
    assert it.state == ReviewItem.State.OPEN


def test_deciding_an_unknown_item_is_404(world):
    response = api_client(world.reviewer).post("/api/v1/review/999999/decision/", {"verdict": "person"}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_next_returns_the_clip_with_detections_and_the_customer_words(world):
    it = item(world.cam_a, 0.9, ReviewItem.Reason.CUSTOMER_REPORT)
    clip_detail_write(
        it.clip, [{"frame_index": 5, "frame_time": 0.5, "x1": 1, "y1": 2, "x2": 30, "y2": 60, "score": 0.9}]
    )
    it.clip.reports.create(reported_by=world.customer_a, reason="it is my dog")
    body = api_client(world.reviewer).get("/api/v1/review/next/").json()
    assert body["id"] == it.id and body["reason"] == "customer_report"
    assert body["clip"]["detections"] == [
        {
            "frame_index": 5,
            "frame_time": 0.5,
            "box": [1.0, 2.0, 30.0, 60.0],
            "score": 0.9,
            "label": "person",
            "suppressed_by": None,
        }
    ]
    assert body["clip"]["reports"][0]["reason"] == "it is my dog"


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_asking_at_once_never_get_the_same_item():
    camera = CameraFactory()
    reviewers = [make_user(f"reviewer-{i}", "reviewer") for i in range(2)]
    for i in range(30):
        item(camera, 0.5 + i / 100)
    for _round in range(15):
        barrier = threading.Barrier(2)
        got, errors = [None, None], []

        def ask(i, barrier=barrier, got=got, errors=errors):
            try:
                barrier.wait()
                claimed = queue.review_next(reviewer=reviewers[i])
                got[i] = claimed.id if claimed else None
                if claimed:
                    queue.review_record(item=claimed, reviewer=reviewers[i], verdict="person", tags=[])
            except Exception as exc:  # surfaced below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert got[0] is not None and got[1] is not None
        assert got[0] != got[1]
    assert Review.objects.count() == 30
    assert Review.objects.values("item").distinct().count() == 30

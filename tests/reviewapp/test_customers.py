from django.test import Client

from reviewapp.review.models import FalseAlertReport, ReviewItem
from tests.conftest import api_client
from tests.factories import ClipFactory, ReviewItemFactory


def test_a_customer_lists_only_their_own_alerts(world):
    mine = ClipFactory(camera=world.cam_a, alert=True)
    ClipFactory(camera=world.cam_a, alert=False)
    ClipFactory(camera=world.cam_b, alert=True)
    body = api_client(world.customer_a).get("/api/v1/alerts/").json()
    assert [c["id"] for c in body["results"]] == [str(mine.id)]


def test_a_false_alert_report_puts_the_clip_on_top_of_the_queue(world):
    near = ReviewItemFactory(clip=ClipFactory(camera=world.cam_b, score=0.5))
    clip = ClipFactory(camera=world.cam_a, alert=True, score=0.97)
    response = api_client(world.customer_a).post(
        f"/api/v1/clips/{clip.id}/false-alert/", {"reason": "my cat"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["reported"] is True
    report = FalseAlertReport.objects.get(clip=clip)
    assert (report.reported_by, report.reason) == (world.customer_a, "my cat")
    nxt = api_client(world.reviewer).get("/api/v1/review/next/").json()
    assert nxt["clip"]["id"] == str(clip.id) and nxt["reason"] == "customer_report"
    assert near.id != nxt["id"]


def test_reporting_twice_answers_200_and_stores_one_report(world):
    clip = ClipFactory(camera=world.cam_a, alert=True)
    client = api_client(world.customer_a)
    assert client.post(f"/api/v1/clips/{clip.id}/false-alert/").status_code == 201
    assert client.post(f"/api/v1/clips/{clip.id}/false-alert/").status_code == 200
    assert FalseAlertReport.objects.filter(clip=clip).count() == 1


def test_a_report_reopens_a_clip_already_decided(world):
    item = ReviewItemFactory(clip=ClipFactory(camera=world.cam_a, alert=True), state=ReviewItem.State.DONE)
    api_client(world.customer_a).post(f"/api/v1/clips/{item.clip_id}/false-alert/")
    item.refresh_from_db()
    assert (item.state, item.reason, item.priority) == ("open", "customer_report", 0)


def test_a_clip_that_did_not_alert_cannot_be_reported(world):
    clip = ClipFactory(camera=world.cam_a, alert=False)
    response = api_client(world.customer_a).post(f"/api/v1/clips/{clip.id}/false-alert/")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_an_alert"
    assert not FalseAlertReport.objects.exists()


def test_a_report_reason_too_long_is_refused(world):
    clip = ClipFactory(camera=world.cam_a, alert=True)
    response = api_client(world.customer_a).post(
        f"/api/v1/clips/{clip.id}/false-alert/", {"reason": "x" * 3000}, format="json"
    )
    assert response.status_code == 400
    assert not FalseAlertReport.objects.exists()


def test_another_customers_clip_is_404_and_not_reported(world):
    clip = ClipFactory(camera=world.cam_a, alert=True)
    response = api_client(world.customer_b).post(f"/api/v1/clips/{clip.id}/false-alert/")
    assert response.status_code == 404
    assert not FalseAlertReport.objects.exists()


def test_the_alert_page_reports_a_false_alert(world):
    clip = ClipFactory(camera=world.cam_a, alert=True)
    client = Client()
    client.force_login(world.customer_a)
    page = client.get(f"/alerts/{clip.id}/")
    assert b"This is not a person" in page.content
    response = client.post(f"/alerts/{clip.id}/report/", {"reason": "a moth on the lens"}, follow=True)
    assert b"a reviewer will look at this clip" in response.content
    assert b"This is not a person" not in response.content
    assert FalseAlertReport.objects.get(clip=clip).reason == "a moth on the lens"

"""The customer's alerts list and alert page (issue 16): the frame that alerted, the clip
playing, one "this is not a person" button, the reviewer's verdict alone; no score, model
version, threshold, reviewer or note anywhere on them."""

from pathlib import Path

import pytest
from django.test import Client

from reviewapp.review.models import Detection, FalseAlertReport, Review
from tests.factories import ClipFactory, ReviewItemFactory

MODEL = "yolo-internal-v9"
NOTE = "reviewer-only-note"
SCORE = 0.8734


def _get(user, url):
    client = Client()
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response


def _clip(world, *, verdict=None, frame=7, **kwargs):
    clip = ClipFactory(camera=world.cam_a, alert=True, score=SCORE, model_version=MODEL, **kwargs)
    Detection.objects.create(
        clip=clip, frame_index=frame, frame_time=frame / 10, x1=10, y1=20, x2=90, y2=200, score=SCORE
    )
    Detection.objects.create(clip=clip, frame_index=2, frame_time=0.2, x1=1, y1=1, x2=9, y2=9, score=0.41)
    if verdict:
        item = ReviewItemFactory(clip=clip)
        Review.objects.create(item=item, clip=clip, verdict="person", reviewer=world.reviewer, note="older")
        Review.objects.create(item=item, clip=clip, verdict=verdict, reviewer=world.reviewer, note=NOTE)
    return clip


def _no_internals(html, world):
    for secret in (MODEL, NOTE, "0.873", "0.87", "0.41", world.reviewer.username, "threshold", "Model", "Score"):
        assert secret not in html, secret


def test_the_list_shows_the_frame_that_alerted_and_the_verdict_alone(world):
    person = _clip(world, verdict="person", frame=7)
    false_alarm = _clip(world, verdict="no_person", frame=12)
    waiting = _clip(world)
    html = _get(world.customer_a, "/alerts/").content.decode()
    assert f'src="/clips/{person.id}/frames/7.jpg"' in html
    assert f'src="/clips/{false_alarm.id}/frames/12.jpg"' in html
    assert f'src="/clips/{waiting.id}/frames/7.jpg"' in html
    assert html.count("confirmed: a person") == 1
    assert html.count("confirmed: false alarm") == 1  # the newest review decides, not the first
    assert html.count("not reviewed yet") == 1
    _no_internals(html, world)


def test_the_alert_page_shows_the_key_frame_the_player_and_the_verdict(world):
    clip = _clip(world, verdict="no_person", frame=7)
    html = _get(world.customer_a, f"/alerts/{clip.id}/").content.decode()
    assert f'<figure class="key-frame" id="key-frame"><img src="/clips/{clip.id}/frames/7.jpg"' in html
    assert f'src="/clips/{clip.id}/play/"' in html and 'id="decided-data"' in html
    assert "confirmed: false alarm" in html and "confirmed: a person" not in html
    assert "This is not a person" in html and 'name="reason"' in html
    _no_internals(html, world)


def test_an_unreviewed_alert_says_so_and_the_button_reports_it(world):
    clip = _clip(world)
    assert "not reviewed yet" in _get(world.customer_a, f"/alerts/{clip.id}/").content.decode()
    client = Client()
    client.force_login(world.customer_a)
    page = client.post(f"/alerts/{clip.id}/report/", {"reason": "my dog"}, follow=True).content.decode()
    assert FalseAlertReport.objects.get(clip=clip).reason == "my dog"
    assert "This is not a person" not in page and "You reported this as a false alert" in page
    _no_internals(page, world)


def test_the_customers_clip_page_shows_no_scores_either(world):
    clip = _clip(world, verdict="person")
    _no_internals(_get(world.customer_a, f"/clips/{clip.id}/").content.decode(), world)


def test_a_reviewer_still_sees_the_internals(world):
    clip = _clip(world, verdict="person")
    html = _get(world.reviewer, f"/clips/{clip.id}/").content.decode()
    assert MODEL in html and NOTE in html and "0.873" in html


@pytest.fixture
def clip_on_disk(world, video, settings):
    clip = _clip(world, frame=0)
    target = Path(settings.MEDIA_ROOT) / clip.file.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(video().read_bytes())
    return clip


def test_the_thumbnail_is_served_to_its_customer_only(world, clip_on_disk):
    url = f"/clips/{clip_on_disk.id}/frames/0.jpg"
    assert _get(world.customer_a, url)["Content-Type"] == "image/jpeg"
    client = Client()
    client.force_login(world.customer_b)
    assert client.get(url).status_code == 404

"""The queue page as one page (#16): the prefetch claim, undo, the skip and undo endpoints, the
plain form without JavaScript, and in Chromium a decision by keyboard without a page load."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reviewapp.review import queue
from reviewapp.review.models import Review, ReviewItem
from tests.conftest import api_client
from tests.factories import CameraFactory, make_user
from tests.reviewapp.test_browser import browser_page  # noqa: F401
from tests.reviewapp.test_queue import item


def test_an_abandoned_prefetch_claim_expires_back_into_the_queue(world):
    first, second, third = (item(world.cam_a, s) for s in (0.51, 0.52, 0.53))
    assert queue.review_next(reviewer=world.reviewer).id == first.id
    # The page prefetches the item after the one on screen: a claim like any other.
    assert queue.review_next(reviewer=world.reviewer, exclude=[first.id]).id == second.id
    assert ReviewItem.objects.get(id=second.id).claimed_by == world.reviewer
    assert queue.review_next(reviewer=world.reviewer2).id == third.id  # not the prefetched one
    assert queue.review_next(reviewer=world.reviewer2, exclude=[third.id]) is None
    # The reviewer closes the page: the prefetch claim runs out and the item is anyone's again.
    ReviewItem.objects.filter(id=second.id).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert queue.review_next(reviewer=world.reviewer2, exclude=[third.id]).id == second.id


def test_two_reviewers_prefetching_never_hold_the_same_item(world):
    items = [item(world.cam_a, 0.50 + i / 100) for i in range(6)]
    held = {world.reviewer.id: [], world.reviewer2.id: []}
    for _round in range(3):
        for reviewer in (world.reviewer, world.reviewer2):
            got = queue.review_next(reviewer=reviewer, exclude=held[reviewer.id])
            held[reviewer.id].append(got.id)
    mine, theirs = set(held[world.reviewer.id]), set(held[world.reviewer2.id])
    assert len(mine) == 3 and len(theirs) == 3 and not mine & theirs
    assert mine | theirs == {i.id for i in items}


def test_undo_removes_the_review_and_gives_the_item_back_to_the_reviewer(world):
    only = item(world.cam_a, 0.51)
    queue.review_next(reviewer=world.reviewer)
    queue.review_record(item=only, reviewer=world.reviewer, verdict="no_person", tags=["dog"])
    assert ReviewItem.objects.get(id=only.id).state == ReviewItem.State.DONE

    back = queue.review_undo(item=only, reviewer=world.reviewer)
    assert not Review.objects.filter(item=only).exists()
    assert back.state == ReviewItem.State.OPEN and back.claimed_by == world.reviewer
    assert queue.review_next(reviewer=world.reviewer2) is None  # it is this reviewer's again
    assert queue.review_next(reviewer=world.reviewer).id == only.id


def test_undo_is_refused_late_or_for_someone_elses_decision(world):
    only = item(world.cam_a, 0.51)
    client, other = api_client(world.reviewer), api_client(world.reviewer2)
    assert client.post(f"/api/v1/review/{only.id}/undo/").json()["error"]["code"] == "not_undoable"
    queue.review_record(item=only, reviewer=world.reviewer, verdict="person", tags=[])
    response = other.post(f"/api/v1/review/{only.id}/undo/")
    assert response.status_code == 400 and response.json()["error"]["code"] == "not_undoable"
    Review.objects.filter(item=only).update(created_at=timezone.now() - timedelta(seconds=60))
    response = client.post(f"/api/v1/review/{only.id}/undo/")
    assert response.status_code == 400 and response.json()["error"]["code"] == "undo_expired"
    assert Review.objects.filter(item=only).count() == 1  # nothing undone


def test_skip_endpoint_and_the_panel_prefetch(world):
    first, second = item(world.cam_a, 0.51), item(world.cam_a, 0.52)
    client = api_client(world.reviewer)
    client.force_login(world.reviewer)
    assert client.get("/review/panel/?exclude=x").json()["error"]["code"] == "invalid"
    page = client.get(f"/review/panel/?exclude={first.id}")
    assert page.status_code == 200 and f'data-item="{second.id}"' in page.content.decode()
    assert client.post(f"/api/v1/review/{second.id}/skip/").status_code == 204
    assert client.get(f"/review/panel/?exclude={first.id}").status_code == 204  # skipped: not offered again


def test_without_javascript_the_plain_form_still_decides_and_redirects(world, client):
    first, second = item(world.cam_a, 0.51), item(world.cam_a, 0.52)
    client.force_login(world.reviewer)
    page = client.get("/review/").content.decode()
    assert f'action="/review/{first.id}/decide/"' in page
    response = client.post(f"/review/{first.id}/decide/", {"verdict": "no_person", "tags": ["dog"]})
    assert response.status_code == 302 and response.url == "/review/"
    assert Review.objects.get(item=first).verdict == "no_person"
    assert f'action="/review/{second.id}/decide/"' in client.get("/review/").content.decode()


def _login(page, url):
    page.goto(f"{url}/review/")
    page.fill("input[name=username]", "rita")
    page.fill("input[name=password]", "pw-123456")
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/review/")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_keyboard_decision_shows_the_next_item_without_a_page_load_and_u_undoes_it(
    live_server,
    browser_page,  # noqa: F811
    default_tags,
):
    camera = CameraFactory(name="acme-door")
    make_user("rita", "reviewer", password="pw-123456")
    first, second = item(camera, 0.51), item(camera, 0.52)
    page = browser_page
    _login(page, live_server.url)
    current = "#flow .review-panel"
    assert page.locator(current).get_attribute("data-item") == str(first.id)
    page.wait_for_selector(f'#prefetch .review-panel[data-item="{second.id}"]', state="attached")
    page.evaluate("window.__marker = 'same page'")

    page.keyboard.press("1")  # dog
    page.keyboard.press("n")
    page.wait_for_selector(f'{current}[data-item="{second.id}"]')
    page.wait_for_function("document.querySelector('#announce').textContent.startsWith('Saved: no person')")
    assert page.evaluate("window.__marker") == "same page"  # no navigation happened
    assert "acme-door" in page.locator("#announce").text_content()  # the next item, announced
    review = Review.objects.get(item=first)
    assert [t.slug for t in review.tags.all()] == ["dog"]

    page.keyboard.press("u")
    page.wait_for_selector(f'{current}[data-item="{first.id}"]')
    page.wait_for_function("document.querySelector('#announce').textContent.startsWith('Undone')")
    assert not Review.objects.filter(item=first).exists()
    back = ReviewItem.objects.get(id=first.id)
    assert back.state == ReviewItem.State.OPEN and back.claimed_by.username == "rita"
    assert page.evaluate("window.__marker") == "same page"

    page.keyboard.press("p")  # decided again, then the second item, then the queue is empty
    page.wait_for_selector(f'{current}[data-item="{second.id}"]')
    page.keyboard.press("s")
    page.wait_for_selector("#flow #empty")
    # The skip is the newest action: its answer is what is announced, whichever answer came first.
    page.wait_for_function("document.querySelector('#announce').textContent.startsWith('Skipped')")
    page.wait_for_function("Object.keys(window.vigiaFlow.inflight).length === 0")
    assert Review.objects.get(item=first).verdict == "person"
    assert not Review.objects.filter(item=second).exists()
    assert page.evaluate("window.__marker") == "same page"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_refused_decision_brings_the_item_back_with_the_servers_message(
    live_server,
    browser_page,  # noqa: F811
    default_tags,
):
    from reviewapp.review.models import Tag

    camera = CameraFactory(name="acme-door")
    make_user("rita", "reviewer", password="pw-123456")
    first, second = item(camera, 0.51), item(camera, 0.52)
    page = browser_page
    _login(page, live_server.url)
    page.wait_for_selector(f'#prefetch .review-panel[data-item="{second.id}"]', state="attached")
    Tag.objects.filter(slug="dog").update(active=False)  # retired while the page was open
    page.keyboard.press("1")
    page.keyboard.press("n")
    page.wait_for_selector("#flow-error:not([hidden])")
    assert "unknown tag(s): dog" in page.locator("#flow-error").text_content()
    page.wait_for_selector(f'#flow .review-panel[data-item="{first.id}"]')
    assert not Review.objects.filter(item=first).exists()
    page.keyboard.press("1")  # untick the retired tag and decide again: saved, the next one shown
    page.keyboard.press("n")
    page.wait_for_selector(f'#flow .review-panel[data-item="{second.id}"]')
    page.wait_for_function("document.querySelector('#announce').textContent.startsWith('Saved: no person')")
    assert Review.objects.get(item=first).verdict == "no_person"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_g_decides_the_group_in_one_keystroke(live_server, browser_page, default_tags):  # noqa: F811
    from reviewapp.tuning.models import SuppressionRule
    from tests.factories import ClipFactory
    from tests.reviewapp.test_rules_api import clip_with_cat

    camera = CameraFactory(name="acme-door")
    make_user("rita", "reviewer", password="pw-123456")
    _c, lead = clip_with_cat(camera)
    _c, twin = clip_with_cat(camera)
    ReviewItem.objects.filter(id=lead.id).update(distance=0.01)
    ReviewItem.objects.filter(id=twin.id).update(distance=0.02)
    other = queue.review_item_enqueue(clip=ClipFactory(camera=camera), reason=ReviewItem.Reason.NEAR_THRESHOLD)
    page = browser_page
    _login(page, live_server.url)
    assert page.locator("#flow .review-panel").get_attribute("data-item") == str(lead.id)
    assert page.locator("#flow .group").get_attribute("data-members") == str(twin.id)
    assert page.locator("#flow .group-grid img").count() == 1  # the grid of key frames
    page.wait_for_selector(f'#prefetch .review-panel[data-item="{twin.id}"]', state="attached")

    page.keyboard.press("g")
    # The twin was prefetched, but it is decided with the group: the next item is the other one.
    page.wait_for_selector(f'#flow .review-panel[data-item="{other.id}"]')
    page.wait_for_function("document.querySelector('#announce').textContent.startsWith('Saved: no person')")
    assert {r.item_id for r in Review.objects.filter(verdict="no_person")} == {lead.id, twin.id}
    assert {r.source_review.item_id for r in SuppressionRule.objects.all()} == {lead.id}

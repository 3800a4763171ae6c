"""A reviewer in a real browser (Debian's Chromium driven by Playwright): log in, decide an
item with the keyboard, and see the next one."""

import pytest
from django.utils import timezone

from reviewapp.review import ingest, processing, queue
from reviewapp.review.demo import photo, write_clip
from reviewapp.review.models import Review, ReviewItem
from tests.factories import CameraFactory, make_user

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser_page(monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the ORM calls the test makes
    # between page actions are still plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page()
        page.set_default_timeout(15000)
        yield page
        # Inside Playwright's greenlet the ORM had its own connection: close it, or the test
        # database cannot be dropped at the end of the session.
        from django.db import connections

        connections.close_all()
        browser.close()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_reviewer_decides_with_the_keyboard_and_gets_the_next_item(live_server, browser_page, tmp_path, default_tags):
    camera = CameraFactory(name="acme-door")
    make_user("rita", "reviewer", password="pw-123456")
    items = []
    for _i, name in enumerate(["chelsea", "coffee"]):
        path = write_clip(tmp_path / f"{name}.mp4", photo(name), seconds=2, fps=5)
        clip, _ = ingest.clip_ingest(camera=camera, path=str(path), recorded_at=timezone.now())
        processing.clip_process(clip_id=clip.id)
        items.append(queue.review_item_enqueue(clip=clip, reason=ReviewItem.Reason.NEAR_THRESHOLD))
    # Make the order known: the first item is the closest to the threshold.
    ReviewItem.objects.filter(id=items[0].id).update(distance=0.01)
    ReviewItem.objects.filter(id=items[1].id).update(distance=0.02)

    page = browser_page
    page.goto(f"{live_server.url}/review/")
    page.fill("input[name=username]", "rita")
    page.fill("input[name=password]", "pw-123456")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/review/")
    page.wait_for_load_state("networkidle")
    assert page.locator("#flow #item-id").get_attribute("value") == str(items[0].id)
    frames = page.locator("#flow .strip img")
    assert frames.count() > 0
    frames.first.evaluate("img => img.complete || new Promise(r => img.onload = r)")
    assert frames.first.evaluate("img => img.naturalWidth") > 0  # the frame with its boxes renders

    page.keyboard.press("1")  # tag: dog
    page.keyboard.press("n")  # no person: submits
    page.wait_for_function(
        f"document.querySelector('#item-id') && document.querySelector('#item-id').value === '{items[1].id}'"
    )
    page.wait_for_function("document.querySelector('#announce').textContent.startsWith('Saved: no person')")
    page.wait_for_load_state("networkidle")

    review = Review.objects.get(item=items[0])
    assert review.verdict == "no_person"
    assert [t.slug for t in review.tags.all()] == ["dog"]

    page.keyboard.press("p")
    page.wait_for_selector("#empty")
    page.wait_for_function("document.querySelector('#announce').textContent.startsWith('Saved: person')")
    assert Review.objects.get(item=items[1]).verdict == "person"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_suppress_similar_is_ticked_by_a_static_object_tag_and_dropped_for_a_person(
    live_server, browser_page, default_tags
):
    from reviewapp.tuning.models import SuppressionRule
    from tests.reviewapp.test_rules_api import clip_with_cat

    camera = CameraFactory(name="acme-door")
    make_user("rita", "reviewer", password="pw-123456")
    _c1, first = clip_with_cat(camera)
    _c2, second = clip_with_cat(camera)
    ReviewItem.objects.filter(id=first.id).update(distance=0.01)
    ReviewItem.objects.filter(id=second.id).update(distance=0.02)

    page = browser_page
    page.goto(f"{live_server.url}/review/")
    page.fill("input[name=username]", "rita")
    page.fill("input[name=password]", "pw-123456")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/review/")
    suppress = page.locator("#flow #suppress-similar")
    assert not suppress.is_checked()
    page.keyboard.press("1")  # dog: not a static object
    assert not suppress.is_checked()
    page.keyboard.press("5")  # cone
    assert suppress.is_checked()
    page.keyboard.press("5")  # cone off again
    assert not suppress.is_checked()
    page.check("#flow input[value=car]")  # by mouse
    assert suppress.is_checked()
    page.keyboard.press("n")
    page.wait_for_function(
        f"document.querySelector('#item-id') && document.querySelector('#item-id').value === '{second.id}'"
    )
    page.wait_for_function("document.querySelector('#announce').textContent.startsWith('Saved: no person')")
    rule = SuppressionRule.objects.get()
    assert rule.source_review.item_id == first.id

    page.keyboard.press("4")  # car ticks "suppress similar"...
    assert page.locator("#flow #suppress-similar").is_checked()
    page.keyboard.press("p")  # ...but a person cannot suppress: the default tick is dropped
    page.wait_for_selector("#empty")
    page.wait_for_function("document.querySelector('#announce').textContent.startsWith('Saved: person')")
    assert Review.objects.get(item=second).verdict == "person"
    assert SuppressionRule.objects.count() == 1

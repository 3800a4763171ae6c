"""In a real Chromium (Debian's, driven by Playwright): an mp4v camera clip plays and seeks (the
original does not: MediaError 4, "source not supported"; the worker's H.264 preview does), and
the review history is filtered and downloaded as CSV; a customer's alert shows the frame that
alerted (an image that loads) and plays."""

from pathlib import Path

import pytest
from django.utils import timezone

from reviewapp.review import ingest, preview, processing
from reviewapp.review.demo import photo, write_clip
from reviewapp.review.models import Clip
from tests.factories import CameraFactory, make_user
from tests.reviewapp.test_browser import browser_page  # noqa: F401 - a fixture


def log_in(page, base_url, path):
    page.goto(f"{base_url}{path}")
    page.fill("input[name=username]", "rita")
    page.fill("input[name=password]", "pw-123456")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}{path}")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_preview_of_an_mp4v_upload_plays_and_seeks_in_chromium(live_server, browser_page, tmp_path):  # noqa: F811
    camera = CameraFactory(name="acme-door", threshold=0.1)
    make_user("rita", "reviewer", password="pw-123456")
    path = write_clip(tmp_path / "astronaut.mp4", photo("astronaut"), seconds=6, fps=10)
    clip, _ = ingest.clip_ingest(camera=camera, path=str(path), recorded_at=timezone.now())
    processing.clip_process(clip_id=clip.id)
    preview.clip_preview_make(clip_id=clip.id)  # the task the worker runs after the clip's
    clip.refresh_from_db()
    assert clip.status == Clip.Status.DONE and clip.preview.name

    page = browser_page
    log_in(page, live_server.url, f"/clips/{clip.id}/")
    video = page.locator("#clip-video")
    # HAVE_CURRENT_DATA (2) or better, or an error: whichever comes first.
    page.wait_for_function(
        "() => { const v = document.querySelector('#clip-video'); return v.readyState >= 2 || v.error; }"
    )
    assert video.evaluate("v => v.error && v.error.code") is None
    assert video.evaluate("v => v.readyState") >= 2
    assert video.evaluate("v => v.duration") == pytest.approx(6.0, abs=0.2)

    video.evaluate("v => { v.currentTime = 4.0; }")
    page.wait_for_function(
        "() => { const v = document.querySelector('#clip-video'); return !v.seeking && v.readyState >= 2; }"
    )
    assert video.evaluate("v => v.currentTime") == pytest.approx(4.0, abs=0.15)
    assert video.evaluate("v => v.error && v.error.code") is None

    # The box that decided is drawn over the picture at its time.
    page.click("#seek-decided")
    page.wait_for_function("() => !document.querySelector('#decided-box').hidden")
    box = page.locator("#decided-box").bounding_box()
    frame = video.bounding_box()
    assert box["width"] > 10 and box["height"] > 10
    assert frame["x"] <= box["x"] and box["x"] + box["width"] <= frame["x"] + frame["width"] + 1

    # Without the preview the same page shows Chromium's refusal of mp4v: the test can tell.
    video.evaluate(f"v => {{ v.src = '/clips/{clip.id}/video/'; v.load(); }}")
    page.wait_for_function("() => document.querySelector('#clip-video').error !== null")
    assert video.evaluate("v => v.error.code") == 4  # MEDIA_ERR_SRC_NOT_SUPPORTED


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_reviewer_filters_the_history_and_downloads_it_as_csv(live_server, browser_page, default_tags):  # noqa: F811
    from tests.factories import ClipFactory
    from tests.reviewapp.test_history import decide

    rita = make_user("rita", "reviewer", password="pw-123456")
    door, gate = CameraFactory(name="acme-door"), CameraFactory(name="globex-gate")
    dog = decide(ClipFactory(camera=door), rita, "no_person", tags=["dog"])
    decide(ClipFactory(camera=gate), rita, "person")
    decide(ClipFactory(camera=door), rita, "person")

    page = browser_page
    log_in(page, live_server.url, "/review/history/")
    assert page.locator("table tr").count() == 4  # the header and three decisions
    page.select_option("select[name=camera]", ["acme-door"])
    page.select_option("select[name=verdict]", "no_person")
    page.click("#history-filters button[type=submit]")
    page.wait_for_url("**/review/history/?**")
    rows = page.locator("table tr")
    assert rows.count() == 2 and "acme-door" in rows.nth(1).inner_text()
    assert page.locator("select[name=verdict]").input_value() == "no_person"  # the form keeps them

    with page.expect_download() as download:
        page.click("#history-csv")
    text = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert text[0].startswith("decided_at,clip_id,camera")
    assert len(text) == 2 and str(dog.clip_id) in text[1] and ",no_person,dog,rita," in text[1]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_customer_sees_the_frame_that_alerted_and_the_clip_playing(live_server, browser_page, tmp_path):  # noqa: F811
    camera = CameraFactory(name="acme-door", threshold=0.1)
    make_user("cora", "customer", customer=camera.customer, password="pw-123456")
    path = write_clip(tmp_path / "astronaut.mp4", photo("astronaut"), seconds=3, fps=10)
    clip, _ = ingest.clip_ingest(camera=camera, path=str(path), recorded_at=timezone.now())
    processing.clip_process(clip_id=clip.id)
    preview.clip_preview_make(clip_id=clip.id)
    clip.refresh_from_db()
    assert clip.alert, "the astronaut alerts at 0.1"

    page = browser_page
    page.goto(f"{live_server.url}/alerts/")
    page.fill("input[name=username]", "cora")
    page.fill("input[name=password]", "pw-123456")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/alerts/")
    loaded = "img => img.complete && img.naturalWidth"
    page.wait_for_function("() => { const i = document.querySelector('img.thumb'); return i && i.complete; }")
    assert page.locator("img.thumb").evaluate(loaded) > 0
    assert "not reviewed yet" in page.content() and "Score" not in page.content()

    page.click("img.thumb")
    page.wait_for_url(f"{live_server.url}/alerts/{clip.id}/")
    page.wait_for_function("() => document.querySelector('#key-frame img').complete")
    assert page.locator("#key-frame img").evaluate(loaded) > 0
    page.wait_for_function(
        "() => { const v = document.querySelector('#clip-video'); return v.readyState >= 2 || v.error; }"
    )
    assert page.locator("#clip-video").evaluate("v => v.error && v.error.code") is None
    assert page.locator("button", has_text="This is not a person").is_visible()

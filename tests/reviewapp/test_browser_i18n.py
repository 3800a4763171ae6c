"""A pt-BR browser gets Portuguese pages and its customer's local times, an en browser English;
the header's switch changes the language (Debian's Chromium driven by Playwright)."""

from datetime import UTC, datetime

import pytest

from tests.factories import CameraFactory, ClipFactory, CustomerFactory, make_user

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


@pytest.fixture
def chromium(monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "1")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        from django.db import connections

        connections.close_all()
        browser.close()


def log_in(browser, url, locale):
    page = browser.new_context(locale=locale).new_page()
    page.set_default_timeout(15000)
    page.goto(f"{url}/alerts/")
    page.fill("input[name=username]", "carla")
    page.fill("input[name=password]", "pw-123456")
    page.locator("main button[type=submit]").click()
    page.wait_for_url(f"{url}/alerts/")
    return page


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_pt_br_browser_gets_portuguese_and_local_times_an_en_browser_english(live_server, chromium):
    customer = CustomerFactory(name="Padaria", timezone="America/Sao_Paulo")
    make_user("carla", "customer", customer, password="pw-123456")
    # 01:15 UTC on the 21st is 22:15 on the 20th in São Paulo (UTC-3).
    ClipFactory(camera=CameraFactory(customer=customer), recorded_at=datetime(2026, 11, 21, 1, 15, tzinfo=UTC))

    pt = log_in(chromium, live_server.url, "pt-BR")
    assert pt.locator("html").get_attribute("lang") == "pt-br"
    assert pt.locator("h1").inner_text() == "Alertas"
    assert pt.locator("main th").all_inner_texts()[:3] == ["O que alertou", "Gravado", "Câmera"]
    assert "2026-11-20 22:15" in pt.locator("main table").inner_text()

    en = log_in(chromium, live_server.url, "en-US")
    assert en.locator("html").get_attribute("lang") == "en"
    assert en.locator("h1").inner_text() == "Alerts"
    assert "2026-11-20 22:15" in en.locator("main table").inner_text()  # the zone is the customer's, not the language's

    # The switch: an English browser chooses Portuguese; the choice outlives the page.
    with en.expect_navigation():
        en.select_option("#language-form select", "pt-br")
    assert en.locator("h1").inner_text() == "Alertas"
    en.goto(f"{live_server.url}/alerts/")
    assert en.locator("h1").inner_text() == "Alertas"

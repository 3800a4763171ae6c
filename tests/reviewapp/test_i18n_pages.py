"""The browser's language picks the page's (and the switch overrides it); times are the viewer's
zone; the error analysis buckets hours and days in it; the API's `message` is translated, its `code` not."""

from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from reviewapp.core.timezones import validate_timezone
from reviewapp.monitoring import analysis
from reviewapp.review import rollups
from reviewapp.review.models import Customer, Profile
from tests.conftest import api_client
from tests.factories import ClipFactory, ReviewItemFactory

pytestmark = pytest.mark.django_db


def logged_in(user, **headers) -> Client:
    client = Client(**headers)
    client.force_login(user)
    return client


def test_a_pt_br_browser_gets_portuguese_and_an_en_browser_english(world):
    pt = logged_in(world.reviewer, HTTP_ACCEPT_LANGUAGE="pt-BR,pt;q=0.9,en;q=0.5").get(reverse("review-history"))
    assert '<html lang="pt-br">' in pt.content.decode()
    assert "Histórico" in pt.content.decode() and "Decisões" in pt.content.decode()
    en = logged_in(world.reviewer, HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").get(reverse("review-history"))
    assert '<html lang="en">' in en.content.decode()
    assert "History" in en.content.decode() and "Histórico" not in en.content.decode()


def test_the_login_page_follows_the_browser_too(db):
    page = Client(HTTP_ACCEPT_LANGUAGE="pt-BR").get(reverse("login")).content.decode()
    assert "Entrar" in page and "Usuário" in page and "Senha" in page


def test_the_switch_overrides_the_browser(world):
    client = logged_in(world.reviewer, HTTP_ACCEPT_LANGUAGE="en")
    response = client.post(reverse("set_language"), {"language": "pt-br", "next": reverse("review-history")})
    assert response.status_code == 302 and response["Location"] == reverse("review-history")
    assert "Histórico" in client.get(reverse("review-history")).content.decode()


def test_an_api_error_message_is_translated_but_its_code_is_not(world):
    clip = ClipFactory(camera=world.cam_a, alert=False)
    client = api_client(world.customer_a)
    url = reverse("api-false-alert", args=[clip.id])
    pt = client.post(url, {}, format="json", HTTP_ACCEPT_LANGUAGE="pt-BR")
    en = client.post(url, {}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert pt.status_code == en.status_code == 400
    assert pt.json()["error"]["code"] == en.json()["error"]["code"] == "not_an_alert"
    assert pt.json()["error"]["message"] == "este clipe não gerou alerta"
    assert en.json()["error"]["message"] == "this clip did not alert"
    # DRF's own messages come translated by DRF's catalogue.
    item = ReviewItemFactory(clip=ClipFactory(camera=world.cam_a))
    bad = api_client(world.reviewer).post(
        reverse("api-review-decision", args=[item.id]),
        {"verdict": "maybe"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="pt-BR",
    )
    assert bad.status_code == 400 and "não é uma escolha válida" in bad.json()["error"]["message"]


def test_a_customer_sees_times_in_the_customer_zone(world):
    clip = ClipFactory(camera=world.cam_a, recorded_at=datetime(2026, 11, 21, 2, 30, tzinfo=UTC), alert=True)
    assert world.acme.timezone == "America/Sao_Paulo"  # the default: UTC-3, no summer time since 2019
    page = logged_in(world.customer_a).get(reverse("alert", args=[clip.id])).content.decode()
    assert "2026-11-20 23:30" in page and "2026-11-21 02:30" not in page


def test_a_reviewer_chooses_a_zone_and_sees_times_in_it(world):
    clip = ClipFactory(camera=world.cam_a, recorded_at=datetime(2026, 11, 21, 2, 30, tzinfo=UTC))
    client = logged_in(world.reviewer)
    assert "2026-11-21 02:30" in client.get(reverse("clip", args=[clip.id])).content.decode()  # UTC: the default
    assert client.post(reverse("preferences"), {"timezone": "Asia/Tokyo"}).status_code == 302
    assert Profile.objects.get(user=world.reviewer).timezone == "Asia/Tokyo"
    assert "2026-11-21 11:30" in client.get(reverse("clip", args=[clip.id])).content.decode()


def test_an_unknown_zone_is_refused_and_nothing_is_saved(world):
    response = logged_in(world.reviewer).post(reverse("preferences"), {"timezone": "Mars/Olympus"})
    assert response.status_code == 400
    assert Profile.objects.get(user=world.reviewer).timezone == ""
    with pytest.raises(ValidationError):
        validate_timezone("Mars/Olympus")
    customer = Customer(name="Initech", timezone="Nowhere/Town")
    with pytest.raises(ValidationError) as raised:
        customer.full_clean()
    assert "timezone" in raised.value.message_dict


def test_a_customer_cannot_change_the_zone(world):
    response = logged_in(world.customer_a).post(reverse("preferences"), {"timezone": "Asia/Tokyo"})
    assert response.status_code == 400
    assert Profile.objects.get(user=world.customer_a).timezone == ""
    assert "America/Sao_Paulo" in response.content.decode()


def test_the_analysis_buckets_hours_and_days_in_the_viewer_zone(world):
    """Two clips 01:30 and 02:30 UTC on 21 November: in UTC both on the 21st at 01h and 02h; in
    São Paulo (UTC-3) both the evening before, 22h and 23h of the 20th."""
    for hour in (1, 2):
        ClipFactory(camera=world.cam_a, recorded_at=datetime(2026, 11, 21, hour, 30, tzinfo=UTC))
    rollups.rollups_rebuild()  # the factory's clips bypass the services that keep the rollups
    client = logged_in(world.reviewer)
    url = reverse("analysis") + "?since="

    def buckets():
        return {s["name"]: s["rows"] for s in client.get(url).context["sections"]}

    utc = buckets()
    assert [r.key for r in utc["hour"]] == ["1", "2"] and [str(r.key) for r in utc["day"]] == ["2026-11-21"]
    Profile.objects.filter(user=world.reviewer).update(timezone="America/Sao_Paulo")
    local = buckets()
    assert [r.key for r in local["hour"]] == ["22", "23"] and [str(r.key) for r in local["day"]] == ["2026-11-20"]
    # A click on a row selects its clips: the hour and the date filters read the same zone.
    assert client.get(local["hour"][0].clips_url).context["page"].paginator.count == 1
    assert client.get(local["day"][0].clips_url).context["page"].paginator.count == 2
    assert str(analysis.DIMENSIONS["hour"][0]) == "By hour of day"


def test_a_bad_filter_is_named_in_the_viewer_language(world):
    url = reverse("analysis") + "?since=yesterday&camera=nowhere"
    pt = logged_in(world.reviewer, HTTP_ACCEPT_LANGUAGE="pt-BR").get(url)
    assert pt.status_code == 400
    page = pt.content.decode()
    assert "uma data ISO (AAAA-MM-DD) ou data e hora" in page and "câmera(s) desconhecida(s): nowhere" in page
    en = logged_in(world.reviewer, HTTP_ACCEPT_LANGUAGE="en").get(url).content.decode()
    assert "an ISO date (YYYY-MM-DD) or date-time" in en and "unknown camera(s): nowhere" in en


def test_the_switch_names_each_language_in_itself(world):
    page = logged_in(world.reviewer, HTTP_ACCEPT_LANGUAGE="pt-BR").get(reverse("review-history")).content.decode()
    assert ">English</option>" in page and ">Português Brasileiro</option>" in page  # not "Inglês"

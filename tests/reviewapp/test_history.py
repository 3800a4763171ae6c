"""The review history (reviewapp/review/history.py): filtered by camera, customer, verdict, tag,
reviewer and decision date with the clip filters' vocabulary, on the page and as CSV."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from reviewapp.review.models import Review, Tag
from tests.factories import ClipFactory, ReviewItemFactory


def decide(clip, reviewer, verdict, *, tags=(), note="", when=None):
    item = ReviewItemFactory(clip=clip)
    review = Review.objects.create(item=item, clip=clip, verdict=verdict, reviewer=reviewer, note=note)
    review.tags.set(Tag.objects.filter(slug__in=tags))
    if when is not None:
        Review.objects.filter(id=review.id).update(created_at=when)
    return review


@pytest.fixture
def decisions(world):
    day = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
    a1 = ClipFactory(camera=world.cam_a, score=0.61, model_version="m1")
    a2 = ClipFactory(camera=world.cam_a, score=0.42, model_version="m2")
    b1 = ClipFactory(camera=world.cam_b, score=0.55, model_version="m1")
    return {
        "dog": decide(a1, world.reviewer, "no_person", tags=["dog"], note="a dog", when=day),
        "person": decide(a2, world.reviewer2, "person", when=day + timedelta(days=1)),
        "car": decide(
            b1, world.reviewer, "no_person", tags=["car"], note="=HYPERLINK(1)", when=day + timedelta(days=2)
        ),
    }


def history(user, query=""):
    client = Client()
    client.force_login(user)
    return client.get(f"/review/history/?{query}")


def shown(response) -> set[int]:
    return {r.id for r in response.context["page"]}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("", {"dog", "person", "car"}),
        ("camera=acme-door", {"dog", "person"}),
        ("verdict=no_person", {"dog", "car"}),
        ("tag=dog&tag=car", {"dog", "car"}),
        ("tag=car", {"car"}),
        ("reviewer=rob", {"person"}),
        ("reviewer=rita,rob&verdict=person", {"person"}),
        ("since=2026-11-21", {"person", "car"}),
        ("until=2026-11-21", {"dog", "person"}),  # a date: that whole day included
        ("since=2026-11-21&until=2026-11-21", {"person"}),
        ("model_version=m1", {"dog", "car"}),
        ("mine=1", {"dog", "car"}),  # rita's
    ],
)
def test_the_history_is_filtered(world, decisions, query, expected):
    response = history(world.reviewer, query)
    assert response.status_code == 200
    assert shown(response) == {decisions[name].id for name in expected}


def test_by_customer(world, decisions):
    assert shown(history(world.reviewer, f"customer={world.globex.id}")) == {decisions["car"].id}


def test_the_csv_has_the_filtered_decisions_and_no_formulas(world, decisions):
    response = history(world.reviewer, "verdict=no_person&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="vigia-decisions-')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["camera"] for r in rows] == ["globex-gate", "acme-door"]  # newest first
    car, dog = rows
    assert dog["clip_id"] == str(decisions["dog"].clip_id) and dog["verdict"] == "no_person"
    assert dog["tags"] == "dog" and dog["reviewer"] == "rita" and dog["customer"] == "Acme"
    assert dog["decided_at"] == "2026-11-20T15:00:00+00:00" and dog["score"] == "0.6100"
    assert car["note"] == "'=HYPERLINK(1)"  # a spreadsheet shows it, does not run it


def test_the_page_links_the_csv_with_the_same_filters(world, decisions):
    page = history(world.reviewer, "verdict=no_person&reviewer=rita").content.decode()
    assert 'href="/review/history/?verdict=no_person&amp;reviewer=rita&amp;format=csv"' in page


@pytest.mark.parametrize(
    "query, field",
    [
        ("camera=nowhere", "camera"),
        ("verdict=maybe", "verdict"),
        ("reviewer=ghost", "reviewer"),
        ("since=yesterday", "since"),
    ],
)
def test_bad_filters_are_400_on_the_page_and_in_the_csv(world, decisions, query, field):
    page = history(world.reviewer, query)
    assert page.status_code == 400 and field in page.content.decode()
    response = history(world.reviewer, query + "&format=csv")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_filter" and field in response.json()["error"]["fields"]


def test_only_reviewers_see_the_history(world, decisions):
    assert history(world.customer_a, "format=csv").status_code == 403
    assert Client().get("/review/history/?format=csv").status_code == 302

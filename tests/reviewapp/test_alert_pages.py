"""A customer's alerts page by page (#13): `?limit=&offset=` finds a page over the keys of the
clip_alerts index, then reads that page's clips (reviewapp.core.pagination.DeferredJoin). Every
page must hold the same clips, in the same order, as a plain query of the customer's alerts,
and nothing of another customer's. Runs on SQLite and, with DATABASE_URL, on PostgreSQL."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviewapp.core.pagination import DeferredJoin
from reviewapp.review import selectors
from reviewapp.review.models import Clip, Review
from tests.conftest import api_client
from tests.factories import CameraFactory, ClipFactory, ReviewItemFactory


@pytest.fixture
def alerts(world):
    """67 alerts of Acme over 3 cameras, many recorded at the same second (the tie-break is the
    id); Acme's clips that did not alert and Globex's alerts interleaved in time."""
    cameras = [world.cam_a, CameraFactory(customer=world.acme), CameraFactory(customer=world.acme)]
    start = timezone.now().replace(microsecond=0) - timedelta(days=3)
    for i in range(67):
        when = start + timedelta(minutes=7 * (i // 4))  # four clips at each time
        clip = ClipFactory(camera=cameras[i % 3], recorded_at=when, alert=True)
        if i % 5 == 0:  # some reviewed: the page's verdicts are the clips', not their neighbours'
            Review.objects.create(
                item=ReviewItemFactory(clip=clip), clip=clip, verdict="no_person", reviewer=world.reviewer
            )
        ClipFactory(camera=cameras[i % 3], recorded_at=when, alert=False, score=0.1)
        ClipFactory(camera=world.cam_b, recorded_at=when, alert=True)
    plain = Clip.objects.filter(camera__customer=world.acme, alert=True).order_by("-recorded_at", "-id")
    return [str(pk) for pk in plain.values_list("pk", flat=True)]


def test_every_page_of_the_api_is_the_plain_querys_slice_in_its_order(world, alerts):
    client = api_client(world.customer_a)
    seen, url = [], "/api/v1/alerts/?limit=10"
    while url:
        body = client.get(url).json()
        assert body["count"] == 67
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen == alerts  # every alert once, newest first, ties by id
    for offset in (0, 30, 57, 60, 66):  # deep, and the last page shorter than the limit
        body = client.get(f"/api/v1/alerts/?limit=10&offset={offset}").json()
        assert [row["id"] for row in body["results"]] == alerts[offset : offset + 10]
    assert client.get("/api/v1/alerts/?offset=67").json()["results"] == []
    assert client.get("/api/v1/alerts/?offset=500").json() == {
        "count": 67,
        "next": None,
        "previous": "http://testserver/api/v1/alerts/?limit=50&offset=450",
        "results": [],
    }


def test_a_deep_page_carries_its_own_clips_fields_and_verdicts(world, alerts):
    body = api_client(world.customer_a).get("/api/v1/alerts/?limit=7&offset=41").json()
    for row in body["results"]:
        clip = Clip.objects.get(pk=row["id"])
        assert clip.camera.customer == world.acme
        assert row["camera"] == clip.camera.name
        newest = Review.objects.filter(clip=clip).first()
        assert row["verdict"] == (newest.verdict if newest else None)


def test_a_deep_page_costs_the_queries_of_the_first(world, alerts):
    client = api_client(world.customer_a)
    client.get("/api/v1/alerts/?limit=10")  # the token's user, once
    with CaptureQueriesContext(connection) as first:
        client.get("/api/v1/alerts/?limit=10")
    with CaptureQueriesContext(connection) as deep:
        client.get("/api/v1/alerts/?limit=10&offset=55")
    assert len(deep.captured_queries) == len(first.captured_queries)
    # The offset is taken over the keys only: no clip's row nor verdict before the page is read.
    keys = [q["sql"] for q in deep.captured_queries if "OFFSET" in q["sql"].upper()]
    assert len(keys) == 1
    assert "verdict" not in keys[0] and "reviewapp_review" not in keys[0]


def test_the_html_pages_show_the_same_clips(world, alerts):
    client = Client()
    client.force_login(world.customer_a)
    shown = []
    for number in (1, 2):
        page = client.get(f"/alerts/?page={number}").context["page"]
        shown += [str(clip.pk) for clip in page]
    assert shown == alerts
    assert [str(c.pk) for c in client.get("/alerts/?page=2").context["page"]] == alerts[50:]


def test_deferred_join_keeps_the_order_and_answers_slices_only(world, alerts):
    rows = DeferredJoin(selectors.alerts_for_customer(user=world.customer_a))
    assert rows.count() == len(rows) == 67 and rows.ordered
    assert [str(c.pk) for c in rows[20:33]] == alerts[20:33]
    assert rows[80:90] == []
    with pytest.raises(TypeError):
        rows[3]


def _plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Statistics and the visibility map, as autovacuum keeps them (outside a transaction:
            # this test's rows are committed), and no scan of the small tables.
            cursor.execute("VACUUM ANALYZE")
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("SET enable_bitmapscan = off")
            try:
                cursor.execute(f"EXPLAIN {sql}", params)
                return "\n".join(r[0] for r in cursor.fetchall())
            finally:
                cursor.execute("RESET enable_seqscan")
                cursor.execute("RESET enable_bitmapscan")
        cursor.execute("ANALYZE")  # statistics, as a database in use has them
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "\n".join(str(r[-1]) for r in cursor.fetchall())


@pytest.mark.django_db(transaction=True)
def test_a_page_of_keys_reads_the_clip_alerts_index_alone(world, alerts):
    # As in use, the few % of clips that alerted: otherwise the planner walks every clip by time.
    when = timezone.now() - timedelta(days=2)
    Clip.objects.bulk_create(
        ClipFactory.build(camera=world.cam_a, alert=False, score=0.1, recorded_at=when + timedelta(seconds=i))
        for i in range(3000)
    )
    keys = selectors.alerts_for_customer(user=world.customer_a).values_list("pk", flat=True)[40:50]
    plan = _plan(keys)
    if connection.vendor == "postgresql":
        assert "Index Only Scan using clip_alerts" in plan, plan
    else:
        assert "USING COVERING INDEX clip_alerts" in plan, plan

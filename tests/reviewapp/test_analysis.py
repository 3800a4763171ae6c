"""Error analysis: the numbers match a fixture counted by hand; filters, click-through, charts,
computed tags (resolution from the video, day/night from the frames) and who may see it."""

from datetime import UTC, datetime

import cv2
import numpy as np
import pytest
from django.http import QueryDict
from django.utils import timezone

from reviewapp.core.errors import ApplicationError
from reviewapp.monitoring import analysis
from reviewapp.review import detail, ingest, processing, rollups
from reviewapp.review.models import Clip, FalseAlertReport, Review, Tag
from tests.factories import ClipFactory, ReviewItemFactory

NIGHT, DAY = 4.0, 90.0


def at(day, hour):
    return datetime(2026, 11, day, hour, 0, tzinfo=UTC)


def decide(clip, verdict, tags=(), reviewer=None):
    item = getattr(clip, "review_item", None) or ReviewItemFactory(clip=clip)
    review = Review.objects.create(item=item, clip=clip, verdict=verdict, reviewer=reviewer)
    review.tags.set(Tag.objects.filter(slug__in=tags))
    return review


@pytest.fixture
def fixture(world):
    """Eight processed clips (and a failed one), counted by hand in the comments.

    acme-door 640x480 (SD), Acme          globex-gate 320x240 (low), Globex
      A1 alert, no_person [dog]     night 11-20 02h m1    G1 alert, person [car] then no_person [dog, low-resolution]
      A2 alert, no_person [insect]  night 11-20 03h m1       night 11-20 02h m2, reported by bob
      A3 alert, person              day   11-21 14h m1    G2 alert, person            night 11-22 01h m2
      A4 alert, not reviewed        day   11-21 15h m2    G3 no alert, not reviewed    day   11-22 10h m2
      A5 no alert, person (missed)  day   11-21 16h m2
    """
    a, g = world.cam_a, world.cam_b
    g.width, g.height = 320, 240
    g.save()
    r = world.reviewer

    def clip(camera, day, hour, alert, sat, model, **kw):
        w, h = (640, 480) if camera == a else (320, 240)
        return ClipFactory(
            camera=camera,
            recorded_at=at(day, hour),
            alert=alert,
            score=0.8 if alert else 0.1,
            saturation=sat,
            model_version=model,
            width=w,
            height=h,
            **kw,
        )

    c = {}
    c["A1"] = clip(a, 20, 2, True, NIGHT, "m1")
    decide(c["A1"], "no_person", ["dog"], r)
    c["A2"] = clip(a, 20, 3, True, NIGHT, "m1")
    decide(c["A2"], "no_person", ["insect"], r)
    c["A3"] = clip(a, 21, 14, True, DAY, "m1")
    decide(c["A3"], "person", [], r)
    c["A4"] = clip(a, 21, 15, True, DAY, "m2")
    c["A5"] = clip(a, 21, 16, False, DAY, "m2")
    decide(c["A5"], "person", [], r)
    c["G1"] = clip(g, 20, 2, True, NIGHT, "m2")
    first = decide(c["G1"], "person", ["car"], r)
    Review.objects.filter(id=first.id).update(created_at=timezone.now() - timezone.timedelta(hours=1))
    decide(c["G1"], "no_person", ["dog", "low-resolution"], world.reviewer2)
    FalseAlertReport.objects.create(clip=c["G1"], reported_by=world.customer_b)
    c["G2"] = clip(g, 22, 1, True, NIGHT, "m2")
    decide(c["G2"], "person", [], r)
    c["G3"] = clip(g, 22, 10, False, DAY, "m2")
    ClipFactory(camera=a, status=Clip.Status.FAILED, score=None, alert=None, recorded_at=at(20, 5))  # never counted
    rollups.rollups_rebuild()  # made behind the services' back: the page reads the rollups
    return c


def slice_of(**params):
    q = QueryDict(mutable=True)
    for key, value in params.items():
        q.setlist(key, value if isinstance(value, list) else [value])
    return analysis.Slice.from_query(q)


def table(rows):
    return {r.key: (r.clips, r.alerts_reviewed, r.false_alerts, r.missed) for r in rows}


def test_the_totals_match_the_hand_count(fixture):
    total = analysis.summary(analysis.Slice())
    assert (total.clips, total.alerts, total.alerts_reviewed, total.false_alerts, total.missed, total.reported) == (
        8,
        6,
        5,
        3,
        1,
        1,
    )
    assert total.false_alert_rate == pytest.approx(3 / 5)


def test_every_dimension_matches_the_hand_count(fixture):
    s = analysis.Slice()
    # (clips, reviewed alerts, false alerts, missed)
    assert table(analysis.by_camera(s)) == {"acme-door": (5, 3, 2, 1), "globex-gate": (3, 2, 1, 0)}
    customers = analysis.by_customer(s)
    assert {r.label: (r.clips, r.false_alerts, r.reported) for r in customers} == {
        "Acme": (5, 2, 0),
        "Globex": (3, 1, 1),
    }
    # the newest review's tags only: G1's first review said "car"
    assert table(analysis.by_tag(s)) == {"dog": (2, 2, 2, 0), "insect": (1, 1, 1, 0), "low-resolution": (1, 1, 1, 0)}
    assert table(analysis.by_resolution(s)) == {"sd": (5, 3, 2, 1), "low": (3, 2, 1, 0)}
    assert table(analysis.by_lighting(s)) == {"night": (4, 4, 3, 0), "day": (4, 1, 0, 1)}
    assert table(analysis.by_model_version(s)) == {"m1": (3, 3, 2, 0), "m2": (5, 2, 1, 1)}
    assert table(analysis.by_hour(s)) == {
        "1": (1, 1, 0, 0),
        "2": (2, 2, 2, 0),
        "3": (1, 1, 1, 0),
        "10": (1, 0, 0, 0),
        "14": (1, 1, 0, 0),
        "15": (1, 0, 0, 0),
        "16": (1, 0, 0, 1),
    }
    assert table(analysis.by_day(s)) == {
        "2026-11-20": (3, 3, 3, 0),
        "2026-11-21": (3, 1, 0, 1),
        "2026-11-22": (2, 1, 0, 0),
    }


def test_filters_select_the_hand_counted_slices(fixture, world):
    def falses(**params):
        total = analysis.summary(slice_of(**params))
        return total.clips, total.false_alerts

    assert falses(camera="acme-door") == (5, 2)
    assert falses(camera=["acme-door", "globex-gate"]) == (8, 3)
    assert falses(customer=str(world.globex.id)) == (3, 1)
    assert falses(tag="dog") == (2, 2)
    assert falses(tag=["dog", "insect"]) == (3, 3)
    assert falses(tag="car") == (0, 0)  # only on G1's older review
    assert falses(since="2026-11-21") == (5, 0)
    assert falses(until="2026-11-20") == (3, 3)  # until is included
    assert falses(until="2026-11-20T03:00") == (2, 2)  # a date-time cut-off is not: A2 at 03h is out
    assert falses(since="2026-11-20T02:30", until="2026-11-20") == (1, 1)
    assert falses(since="2026-11-20", until="2026-11-20", camera="globex-gate") == (1, 1)
    assert falses(model_version="m1") == (3, 2)
    assert falses(lighting="night", resolution="low") == (2, 1)
    assert falses(hour="2") == (2, 2)


@pytest.mark.parametrize(
    "params, field",
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01"}, "until"),
        ({"customer": "x"}, "customer"),
        ({"hour": "24"}, "hour"),
        ({"since": "2026-11-22", "until": "2026-11-20"}, "until"),
        ({"resolution": "8k"}, "resolution"),
        ({"outcome": "whatever"}, "outcome"),
    ],
)
def test_a_bad_filter_is_named(params, field):
    with pytest.raises(ApplicationError) as err:
        slice_of(**params)
    assert field in err.value.fields


def test_every_bad_filter_is_named_at_once(world):
    with pytest.raises(ApplicationError) as err:
        slice_of(since="yesterday", customer="x", camera=["acme-door", "nowhere"], tag="unicorn", hour="25")
    assert set(err.value.fields) == {"since", "customer", "camera", "tag", "hour"}
    assert err.value.fields["camera"] == ["unknown camera(s): nowhere"]


def test_the_page_shows_the_numbers_charts_and_the_export_link(fixture, client, world):
    client.force_login(world.reviewer)
    response = client.get("/analysis/?camera=acme-door&since=2026-11-01&tag=dog&tag=insect")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<svg") == len(analysis.DIMENSIONS)
    assert "/analysis/clips/?camera=acme-door" in html  # bars and numbers link to their clips
    export = response.context["export_url"]
    assert export == "/labeling/exports/new/?camera=acme-door&tag=dog&tag=insect&since=2026-11-01"
    total = response.context["total"]
    assert (total.clips, total.false_alerts) == (2, 2)
    camera_rows = next(s for s in response.context["sections"] if s["name"] == "camera")["rows"]
    assert [(r.key, r.false_alerts) for r in camera_rows] == [("acme-door", 2)]
    assert 'id="export-link"' not in html  # the export page is for staff: no link to a 403


def test_staff_see_the_export_link_with_the_same_filters(fixture, client, world):
    client.force_login(world.operator)
    html = client.get("/analysis/?camera=acme-door&since=2026-11-01").content.decode()
    assert 'id="export-link"' in html
    assert 'href="/labeling/exports/new/?camera=acme-door&amp;since=2026-11-01"' in html


def test_clicking_a_number_lists_exactly_its_clips(fixture, client, world):
    client.force_login(world.reviewer)
    response = client.get("/analysis/?since=")  # all time
    camera_rows = next(s for s in response.context["sections"] if s["name"] == "camera")["rows"]
    acme = next(r for r in camera_rows if r.key == "acme-door")
    listed = client.get(acme.false_url)
    assert listed.status_code == 200
    assert {c.id for c in listed.context["page"]} == {fixture["A1"].id, fixture["A2"].id}
    night = next(s for s in response.context["sections"] if s["name"] == "lighting")["rows"]
    night_missed = client.get(next(r for r in night if r.key == "day").missed_url)
    assert [c.id for c in night_missed.context["page"]] == [fixture["A5"].id]
    tag_rows = next(s for s in response.context["sections"] if s["name"] == "tag")["rows"]
    dog = client.get(next(r for r in tag_rows if r.key == "dog").false_url)
    assert {c.id for c in dog.context["page"]} == {fixture["A1"].id, fixture["G1"].id}


def test_a_bad_filter_answers_400_on_the_page(world, client):
    client.force_login(world.reviewer)
    assert client.get("/analysis/?since=yesterday").status_code == 400
    assert client.get("/analysis/clips/?hour=99").status_code == 400


@pytest.mark.parametrize("who", ["customer_a", "ingest"])
def test_customers_and_services_cannot_see_the_analysis(world, client, who):
    client.force_login(getattr(world, who))
    assert client.get("/analysis/").status_code == 403
    assert client.get("/analysis/clips/").status_code == 403


def test_operators_can(world, client):
    client.force_login(world.operator)
    assert client.get("/analysis/?since=").status_code == 200


def test_the_page_opens_on_the_last_30_days_in_its_url(world, client, settings):
    from datetime import timedelta

    client.force_login(world.reviewer)
    response = client.get("/analysis/?camera=acme-door")
    since = (timezone.now().date() - timedelta(days=settings.ANALYSIS_DEFAULT_DAYS)).isoformat()
    assert response.status_code == 302 and response["Location"] == f"/analysis/?camera=acme-door&since={since}"
    followed = client.get(response["Location"])
    assert followed.context["export_url"] == f"/labeling/exports/new/?camera=acme-door&since={since}"
    assert client.get("/analysis/?since=").context["slice"].since is None  # all time


def test_a_label_cannot_inject_markup_into_a_chart():
    from reviewapp.monitoring import charts

    row = analysis.Row(key="k", label="<script>alert(1)</script>", alerts_reviewed=1, false_alerts=1)
    svg = charts.rate_bars([row], title="t", urls=["/x?a=1&b=2"])
    assert "<script" not in svg and svg.startswith("<svg")


# --------------------------------------------------------------------------- computed tags


def grey_video(path, *, frames=20, size=(320, 240)):
    """Infrared-like footage: the three channels equal."""
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (w, h))
    rng = np.random.default_rng(1)
    base = rng.integers(0, 255, (h, w), dtype=np.uint8)
    for i in range(frames):
        grey = base.copy()
        cv2.rectangle(grey, (10 + 3 * i, 20), (60 + 3 * i, 120), 255, -1)
        writer.write(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def test_the_pipeline_measures_day_and_night_from_the_frames(world, video, tmp_path, settings):
    colour, _ = ingest.clip_ingest(camera=world.cam_a, path=str(video()), recorded_at=timezone.now())
    night, _ = ingest.clip_ingest(
        camera=world.cam_a, path=str(grey_video(tmp_path / "ir.mp4")), recorded_at=timezone.now()
    )
    for clip in (colour, night):
        processing.clip_process(clip_id=clip.id)
    lighting = dict(analysis.annotated_clips().values_list("id", "lighting"))
    assert lighting == {colour.id: "day", night.id: "night"}
    colour.refresh_from_db()
    night.refresh_from_db()
    # MPEG-4 compression adds a little colour noise to grey footage; well under the bound
    assert night.saturation < settings.NIGHT_MAX_SATURATION < 3 * settings.NIGHT_MAX_SATURATION < colour.saturation
    assert colour.brightness > 0 and colour.detections_count == len(
        detail.clip_boxes(colour)
    )  # every box, in its detail


@pytest.mark.parametrize(
    "size, expected",
    [
        ((320, 240), "low"),
        ((480, 360), "sd"),
        ((640, 480), "sd"),
        ((1280, 720), "hd"),
        ((720, 1280), "hd"),
        ((1920, 1080), "fhd"),
        ((3840, 2160), "fhd"),
    ],
)
def test_the_resolution_class_comes_from_the_video_size(world, size, expected):
    clip = ClipFactory(camera=world.cam_a, width=size[0], height=size[1])
    assert analysis.annotated_clips().get(id=clip.id).resolution == expected

"""The error analysis from rollups (#13): on random clips decided, reviewed, re-reviewed, undone,
reported and reprocessed through the services, the rollups give exactly the scan's numbers for
many slices and time zones; the rebuild reproduces what the services kept; the worker keeps them;
two reviews racing on one clip keep them exact (PostgreSQL's row locks)."""

import random
import threading
import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from reviewapp.monitoring import analysis, analysis_rollups
from reviewapp.review import processing, queue, reports, rollups
from reviewapp.review.models import Clip, Review, ReviewItem, Tag
from tests.factories import CameraFactory, ClipFactory

START = datetime(2026, 10, 29, 0, 0, tzinfo=UTC)  # a week across the US's DST change (Nov 1)
ZONES = ["UTC", "America/Sao_Paulo", "Asia/Tokyo", "America/New_York"]


@pytest.fixture(autouse=True)
def _undo_window(settings):
    """The scenarios' undos are within the window whatever the machine's speed: on a loaded one
    the 300 events take over the default 10 s, and an undo refused by the clock made a run fail."""
    settings.REVIEW_UNDO_SECONDS = 3600


def worker_decides(clip_id, *, alert, model, saturation):
    """What the worker's result changes, through the rollups' one mechanism (the real worker is
    tested below)."""
    with rollups.clip_change(clip_id):
        Clip.objects.filter(id=clip_id).update(
            status=Clip.Status.DONE,
            alert=alert,
            score=0.8 if alert else 0.2,
            model_version=model,
            saturation=saturation,
        )


def reprocess(clip_id, rng):
    with rollups.clip_change(clip_id):
        Clip.objects.filter(id=clip_id).update(status=Clip.Status.QUEUED)
    worker_decides(clip_id, **_result(rng))


def _result(rng):
    return {"alert": rng.random() < 0.6, "model": rng.choice(["m1", "m2", ""]), "saturation": rng.choice([None, 4, 90])}


def _review(rng, world, clip, tags):
    item = queue.review_item_enqueue(clip=clip, reason=ReviewItem.Reason.NEAR_THRESHOLD)
    source = rng.choice([Review.Source.VIGIA, Review.Source.VIGIA, Review.Source.LABEL_STUDIO])
    reviewer = rng.choice([world.reviewer, world.reviewer2])
    if item.claimed_by_id is not None and source == Review.Source.VIGIA:  # an undo left it claimed
        reviewer = item.claimed_by
    queue.review_record(
        item=item,
        reviewer=reviewer,
        verdict=rng.choice(Review.Verdict.values),
        tags=rng.sample(tags, rng.randint(0, 2)),
        source=source,
    )


def _undo(clip):
    newest = clip.reviews.order_by("-created_at", "-id").first()
    if newest is not None and newest.source == Review.Source.VIGIA:
        queue.review_undo(item=newest.item, reviewer=newest.reviewer)


def scenario(world, *, seed=1, clips=150, events=300):
    """Random clips on three cameras (two customers, three resolutions), then random events."""
    rng = random.Random(seed)
    hd = CameraFactory(customer=world.globex, name="globex-yard")
    sizes = {world.cam_a.id: (640, 480), world.cam_b.id: (320, 240), hd.id: (1280, 720)}
    ids = []
    for _ in range(clips):
        camera = rng.choice([world.cam_a, world.cam_b, hd])
        w, h = sizes[camera.id]
        at = START + timedelta(minutes=rng.randrange(7 * 24 * 60))
        clip = ClipFactory(camera=camera, recorded_at=at, width=w, height=h, status=Clip.Status.QUEUED, alert=None)
        worker_decides(clip.id, **_result(rng))
        ids.append(clip.id)
    tags = list(Tag.objects.filter(active=True).values_list("slug", flat=True))
    for _ in range(events):
        clip = Clip.objects.get(id=rng.choice(ids))
        kind = rng.choices(["review", "undo", "report", "reprocess"], weights=[6, 2, 2, 1])[0]
        if kind == "review":
            _review(rng, world, clip, tags)
        elif kind == "undo":
            _undo(clip)
        elif kind == "report" and clip.alert:
            reports.false_alert_report(clip=clip, user=rng.choice([world.customer_a, world.customer_b]))
        elif kind == "reprocess":
            reprocess(clip.id, rng)
    return hd


def numbers(total, rows):
    def counts(r):
        return (r.clips, r.alerts, r.reviewed, r.alerts_reviewed, r.false_alerts, r.missed, r.reported)

    return counts(total), {name: [(r.key, str(r.label), counts(r)) for r in dims] for name, dims in rows.items()}


def both(s):
    """(the rollups' numbers, the scan's), and the reason the rollups gave for not answering."""
    total, rows, reason = analysis_rollups.page(s)
    return numbers(total, rows), numbers(*analysis.page(s)), reason


def slices(world, hd):
    yield analysis.Slice()
    yield analysis.Slice(since="2026-10-30", until="2026-11-02")
    yield analysis.Slice(since="2026-10-31")
    yield analysis.Slice(until="2026-11-01")
    yield analysis.Slice(since="2026-11-01T05:00:00+00:00", until="2026-11-01T09:00:00+00:00")
    yield analysis.Slice(camera=("acme-door",), since="2026-10-30", until="2026-11-03")
    yield analysis.Slice(customer=world.globex.id, since="2026-10-31")
    yield analysis.Slice(camera=("globex-yard", "acme-door"), customer=world.globex.id)
    yield analysis.Slice(resolution="low", since="2026-10-30")
    yield analysis.Slice(lighting="night", model_version="m1")
    yield analysis.Slice(hour=3, since="2026-10-30", until="2026-11-03")
    yield analysis.Slice(hour=22, customer=world.acme.id)


@pytest.mark.parametrize("zone", ZONES)
def test_the_rollups_give_the_scans_numbers_for_every_slice(world, zone):
    hd = scenario(world)
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        for s in slices(world, hd):
            from_rollups, from_scan, reason = both(s)
            assert reason == "", s
            assert from_rollups == from_scan, s
    total = numbers(*analysis.page(analysis.Slice()))[0]
    assert total[0] == 150 and all(n > 0 for n in total)  # every count is exercised


def test_slices_the_rollups_cannot_answer_are_counted_from_the_clips(world):
    scenario(world, clips=40, events=80)
    for s, zone in [
        (analysis.Slice(tag=("dog",)), "UTC"),
        (analysis.Slice(outcome="false_alert"), "UTC"),
        (analysis.Slice(since="2026-10-30T10:30:00+00:00"), "UTC"),
        (analysis.Slice(since="2026-10-30"), "Asia/Kolkata"),  # +05:30
    ]:
        with timezone.override(zoneinfo.ZoneInfo(zone)):
            from_rollups, from_scan, reason = both(s)
        assert reason != "" and from_rollups == from_scan


def table_rows():
    """Every non-zero row of the rollups (a key may be left at zero by a change); the drift's
    score sums to 1e-9 (floats added in another order)."""
    out = {}
    for t in rollups.TABLES:
        rows = t.model.objects.values_list(*t.keys, *t.counts)
        rows = [tuple(round(v, 9) if isinstance(v, float) else v for v in r) for r in rows]
        out[t.model.__name__] = sorted(r for r in rows if any(r[len(t.keys) :]))
    return out


def test_the_rebuild_reproduces_what_the_services_kept(world):
    scenario(world, seed=2)
    kept = table_rows()
    assert all(kept.values())
    call_command("analysis_rollups_rebuild")
    assert table_rows() == kept
    call_command("analysis_rollups_rebuild", "--since", "2026-11-01")
    assert table_rows() == kept


def test_a_rebuild_since_a_day_keeps_the_days_before(world):
    scenario(world, seed=3, clips=60, events=60)
    kept = table_rows()
    first = Clip.objects.order_by("recorded_at").first()
    Clip.objects.filter(id=first.id).update(alert=not first.alert)  # behind the services' back
    call_command("analysis_rollups_rebuild", "--since", "2026-11-01")
    assert table_rows() == kept  # the changed clip is before the day: not rebuilt
    call_command("analysis_rollups_rebuild")
    assert table_rows() != kept


def test_the_rebuild_names_a_bad_date():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not an ISO date"):
        call_command("analysis_rollups_rebuild", "--since", "yesterday")


def test_the_worker_keeps_the_rollups(world, video, settings):
    settings.AUDIT_SAMPLE_RATE = 1.0  # every clip to the queue, so a review can follow
    from reviewapp.review import ingest

    clips = [
        ingest.clip_ingest(camera=world.cam_a, path=str(video(f"c{i}.mp4", seed=i)), recorded_at=START)[0]
        for i in range(2)
    ]
    for clip in clips:
        processing.clip_process(clip_id=clip.id)
    queue.review_record(item=ReviewItem.objects.get(clip=clips[0]), reviewer=world.reviewer, verdict="person", tags=[])
    kept = table_rows()
    assert sum(r[-7] for r in kept["AnalysisCell"]) == 2  # both clips counted
    assert sum(r[-5] for r in kept["AnalysisCell"]) == 1  # and the review
    assert sum(r[2] for r in kept["DriftHour"]) == 2  # and both in the drift's histograms
    raw = sum(max(c.score, c.suppressed_score or 0.0) for c in Clip.objects.all())  # the detector's own scores
    assert sum(r[3] for r in kept["DriftHour"]) == pytest.approx(raw)
    rollups.rollups_rebuild()
    assert table_rows() == kept


def test_the_page_reads_the_rollups_and_says_when_it_scans(world, client):
    scenario(world, clips=30, events=40)
    client.force_login(world.reviewer)
    page = client.get("/analysis/?since=2026-10-29&until=2026-11-05")
    assert page.status_code == 200 and b'id="analysis-scan"' not in page.content
    assert page.context["total"].clips == 30
    scanned = client.get("/analysis/?since=2026-10-29&until=2026-11-05&tag=dog")
    assert scanned.status_code == 200 and b'id="analysis-scan"' in scanned.content


def test_before_the_first_rebuild_the_page_scans_and_a_deploy_builds_them_once(world, client):
    """Clips processed before the rollups existed: the page counts them from the clips (and says
    why) until `analysis_rollups_rebuild --if-empty` (the image's migrate role, make run) built them."""
    from io import StringIO

    scenario(world, clips=20, events=20)
    for t in rollups.TABLES:
        t.model.objects.all().delete()  # as right after the migration that made the tables
    client.force_login(world.reviewer)
    url = "/analysis/?since=2026-10-29&until=2026-11-05"
    page = client.get(url)
    assert b'id="analysis-scan"' in page.content and b"not built yet" in page.content
    assert page.context["total"].clips == 20
    out = StringIO()
    call_command("analysis_rollups_rebuild", "--if-empty", stdout=out)
    assert "rollups rebuilt" in out.getvalue()
    page = client.get(url)
    assert b'id="analysis-scan"' not in page.content and page.context["total"].clips == 20
    kept = table_rows()
    out = StringIO()
    call_command("analysis_rollups_rebuild", "--if-empty", stdout=out)  # the next deploy: nothing to do
    assert "nothing to build" in out.getvalue() and table_rows() == kept


def test_a_zone_on_the_half_hour_is_not_whole_hours():
    assert analysis_rollups.whole_hour_zone(zoneinfo.ZoneInfo("America/Sao_Paulo"))
    assert not analysis_rollups.whole_hour_zone(zoneinfo.ZoneInfo("Asia/Kolkata"))
    assert not analysis_rollups.whole_hour_zone(zoneinfo.ZoneInfo("Australia/Lord_Howe"))  # DST of 30 min


# ---------------------------------------------------------------------------- PostgreSQL races


def _race(*calls):
    """Run the calls at once, each in its own thread (its own connection)."""
    barrier = threading.Barrier(len(calls))
    errors = []

    def run(fn):
        try:
            barrier.wait()
            fn()
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(fn,)) for fn in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []


@pytest.mark.django_db(transaction=True)
def test_two_reviews_racing_on_a_clip_keep_the_rollups_exact(world):
    if connection.vendor != "postgresql":
        pytest.skip("threads racing need PostgreSQL's row locks (SQLite has one writer)")
    rng = random.Random(4)
    for i in range(12):
        clip = ClipFactory(camera=world.cam_a, recorded_at=START + timedelta(hours=i), status=Clip.Status.QUEUED)
        worker_decides(clip.id, alert=True, model="m1", saturation=90)
        item = queue.review_item_enqueue(clip=clip, reason=ReviewItem.Reason.NEAR_THRESHOLD)
        verdicts = rng.sample(Review.Verdict.values, 2)
        _race(
            lambda item=item, v=verdicts[0]: queue.review_record(
                item=item, reviewer=world.reviewer, verdict=v, tags=["dog"]
            ),
            lambda item=item, v=verdicts[1]: queue.review_record(
                item=item, reviewer=world.reviewer2, verdict=v, tags=[], source=Review.Source.LABEL_STUDIO
            ),
            lambda clip=clip: reports.false_alert_report(clip=clip, user=world.customer_a),
        )
    kept = table_rows()
    assert sum(r[-5] for r in kept["AnalysisCell"]) == 12  # each clip reviewed once, not twice
    from_rollups, from_scan, _reason = both(analysis.Slice())
    assert from_rollups == from_scan
    rollups.rollups_rebuild()
    assert table_rows() == kept

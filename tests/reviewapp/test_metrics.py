"""/metrics: the counters move with the work, the gauges show the database, and only the
scraper and operators may read it."""

import os
import socket
import subprocess
import sys
import textwrap
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from reviewapp.core import metrics
from reviewapp.review import alerts, ingest, processing, queue, reports, tasks
from reviewapp.review.models import AlertOutbox, Clip
from tests.conftest import api_client
from tests.factories import CameraFactory, ClipFactory, CustomerFactory, ReviewItemFactory

ROOT = Path(__file__).resolve().parents[2]


def parse(text: str) -> dict:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def scrape(client) -> dict:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content[:200]
    assert response["Content-Type"].startswith("text/plain")
    return parse(response.content.decode())


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def staff_client(client, world):
    client.force_login(world.operator)
    return client


def ingest_clip(camera, path):
    clip, created = ingest.clip_ingest(camera=camera, path=str(path), recorded_at=timezone.now())
    assert created
    return clip


# --------------------------------------------------------------------------- events move


def test_it_counts_a_clip_received_and_processed_with_its_timings(world, staff_client, video):
    before = scrape(staff_client)
    clip = ingest_clip(world.cam_a, video(frames=20))
    processing.clip_process(clip_id=clip.id)
    clip.refresh_from_db()
    after = scrape(staff_client)

    group = {"camera_group": "Acme"}
    assert (
        value(after, "vigia_clips_received_total", **group) - value(before, "vigia_clips_received_total", **group) == 1
    )
    alert = "true" if clip.alert else "false"
    assert (
        value(after, "vigia_clips_processed_total", alert=alert, **group)
        - value(before, "vigia_clips_processed_total", alert=alert, **group)
    ) == 1
    for name in ("vigia_clip_decode_seconds", "vigia_clip_detect_seconds", "vigia_clip_processing_seconds"):
        assert value(after, f"{name}_count") - value(before, f"{name}_count") == 1
    assert value(after, "vigia_clip_detect_seconds_sum") - value(
        before, "vigia_clip_detect_seconds_sum"
    ) == pytest.approx(clip.detect_ms / 1000)
    # Globex saw nothing
    assert value(after, "vigia_clips_received_total", camera_group="Globex") == value(
        before, "vigia_clips_received_total", camera_group="Globex"
    )


def test_it_counts_a_failed_clip(world, staff_client, video, settings):
    clip = ingest_clip(world.cam_b, video())
    (Path(settings.MEDIA_ROOT) / clip.file.name).write_bytes(b"not a video any more")
    before = scrape(staff_client)
    tasks.process_clip(str(clip.id))
    after = scrape(staff_client)
    assert Clip.objects.get(id=clip.id).status == Clip.Status.FAILED
    assert (
        value(after, "vigia_clips_failed_total", camera_group="Globex")
        - value(before, "vigia_clips_failed_total", camera_group="Globex")
        == 1
    )
    # failing an already-failed clip again does not count twice
    processing.clip_fail(clip_id=clip.id, error="again")
    assert value(scrape(staff_client), "vigia_clips_failed_total", camera_group="Globex") == value(
        after, "vigia_clips_failed_total", camera_group="Globex"
    )


def test_it_counts_alerts_sent_once_and_shows_the_pending_ones(world, staff_client, django_capture_on_commit_callbacks):
    clip = ClipFactory(camera=world.cam_a, alert=True, score=0.9)
    with django_capture_on_commit_callbacks():  # the send it queues is not run here
        alerts.alert_record(clip=clip)
    AlertOutbox.objects.filter(clip=clip).update(created_at=timezone.now() - timedelta(seconds=90))
    before = scrape(staff_client)
    assert value(before, "vigia_alerts_pending") == 1
    assert 90 <= value(before, "vigia_alerts_oldest_pending_seconds") < 300
    assert alerts.alert_send(clip_id=clip.id) is True
    assert alerts.alert_send(clip_id=clip.id) is False  # the second is a no-op
    after = scrape(staff_client)
    assert (
        value(after, "vigia_alerts_sent_total", camera_group="Acme")
        - value(before, "vigia_alerts_sent_total", camera_group="Acme")
        == 1
    )
    assert value(after, "vigia_alerts_pending") == 0 and value(after, "vigia_alerts_oldest_pending_seconds") == 0


def test_a_decision_moves_the_counter_the_queue_and_the_reviewers_gauge(
    world, staff_client, django_capture_on_commit_callbacks
):
    item = ReviewItemFactory(clip=ClipFactory(camera=world.cam_a, score=0.55))
    before = scrape(staff_client)
    assert value(before, "vigia_review_queue_depth", reason="near_threshold") == 1
    assert value(before, "vigia_review_queue_depth", reason="customer_report") == 0
    assert value(before, "vigia_review_queue_oldest_seconds", reason="near_threshold") >= 0

    with django_capture_on_commit_callbacks(execute=True):
        queue.review_record(item=item, reviewer=world.reviewer, verdict="no_person", tags=["dog"])
    after = scrape(staff_client)
    labels = {"verdict": "no_person", "source": "vigia"}
    assert (
        value(after, "vigia_review_decisions_total", **labels) - value(before, "vigia_review_decisions_total", **labels)
        == 1
    )
    assert value(after, "vigia_review_queue_depth", reason="near_threshold") == 0
    assert value(after, "vigia_reviewer_decisions_recent", reviewer="rita", verdict="no_person") == 1
    assert value(after, "vigia_reviewer_decisions_recent", reviewer="rob", verdict="no_person") == 0


def test_a_rejected_decision_counts_nothing(world, staff_client, django_capture_on_commit_callbacks):
    from reviewapp.core.errors import ApplicationError

    item = ReviewItemFactory(clip=ClipFactory(camera=world.cam_a, score=0.55))
    before = scrape(staff_client)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ApplicationError):
        queue.review_record(item=item, reviewer=world.reviewer, verdict="maybe", tags=[])
    after = scrape(staff_client)
    assert sum(v for (n, _), v in after.items() if n == "vigia_review_decisions_total") == sum(
        v for (n, _), v in before.items() if n == "vigia_review_decisions_total"
    )


def test_a_false_alert_report_moves_the_counter_and_the_queue(world, staff_client, django_capture_on_commit_callbacks):
    clip = ClipFactory(camera=world.cam_a, alert=True, score=0.9)
    before = scrape(staff_client)
    with django_capture_on_commit_callbacks(execute=True):
        reports.false_alert_report(clip=clip, user=world.customer_a)
        reports.false_alert_report(clip=clip, user=world.customer_a)  # the same report again
    after = scrape(staff_client)
    assert (
        value(after, "vigia_false_alert_reports_total", camera_group="Acme")
        - value(before, "vigia_false_alert_reports_total", camera_group="Acme")
        == 1
    )
    assert value(after, "vigia_false_alert_reports_recent", camera_group="Acme") == 1
    assert value(after, "vigia_review_queue_depth", reason="customer_report") == 1


# ---------------------------------------------------------------------------- state gauges


def test_the_backlog_and_recent_clips_come_from_the_database(world, staff_client):
    old = ClipFactory(camera=world.cam_a, status=Clip.Status.QUEUED)
    Clip.objects.filter(id=old.id).update(created_at=timezone.now() - timedelta(minutes=30))
    ClipFactory(camera=world.cam_a, status=Clip.Status.PROCESSING)
    ClipFactory(camera=world.cam_b, status=Clip.Status.DONE)
    ClipFactory(camera=world.cam_b, status=Clip.Status.FAILED)
    samples = scrape(staff_client)
    assert value(samples, "vigia_clips_backlog", status="queued") == 1
    assert value(samples, "vigia_clips_backlog", status="processing") == 1
    assert 29 * 60 < value(samples, "vigia_clips_oldest_queued_seconds") < 40 * 60
    # the old queued clip is outside the 24 h window? no: created 30 min ago, inside it
    assert value(samples, "vigia_clips_recent", camera_group="Acme", status="queued") == 1
    assert value(samples, "vigia_clips_recent", camera_group="Globex", status="failed") == 1
    assert value(samples, "vigia_metrics_collector_up", collector="clips") == 1


def test_recent_processed_clips_are_summed_from_the_rollups(world, staff_client):
    """At 10 M clips the 24 h window holds a third of a million done clips: they are counted from
    the error analysis's rollups (per camera and hour), the rest from the clips by status."""
    from reviewapp.review import rollups

    now = timezone.now()
    for camera, n in ((world.cam_a, 3), (world.cam_b, 2)):
        for _ in range(n):
            ClipFactory(camera=camera, status=Clip.Status.DONE, recorded_at=now - timedelta(hours=2))
    ClipFactory(camera=world.cam_a, status=Clip.Status.DONE, recorded_at=now - timedelta(days=3))  # outside
    ClipFactory(camera=world.cam_b, status=Clip.Status.FAILED, recorded_at=now - timedelta(hours=1))
    ClipFactory(camera=world.cam_a, status=Clip.Status.QUEUED, recorded_at=now - timedelta(minutes=5))
    scanned = scrape(staff_client)  # no rollups yet: every clip from the clips
    rollups.rollups_rebuild()
    summed = scrape(staff_client)
    for group, status, n in (
        ("Acme", "done", 3),
        ("Globex", "done", 2),
        ("Globex", "failed", 1),
        ("Acme", "queued", 1),
    ):
        assert value(scanned, "vigia_clips_recent", camera_group=group, status=status) == n
        assert value(summed, "vigia_clips_recent", camera_group=group, status=status) == n
    # Read from the rollups: a done clip moved behind the services' back still counts where it was.
    Clip.objects.filter(camera=world.cam_b, status=Clip.Status.DONE).update(recorded_at=now - timedelta(days=5))
    assert value(scrape(staff_client), "vigia_clips_recent", camera_group="Globex", status="done") == 2


def test_done_clips_from_the_day_rows_and_at_most_half_a_day_of_cells_are_exact_for_every_start(world):
    """The window's done clips are read from the cameras' day rows plus or minus the cells of
    part of a day (#13): for a window starting at each UTC hour of a day (before noon: the day
    minus its hours before; after: the rest of the day's hours), the sums per camera group are
    those of the clips themselves, from the start's hour on (future clips too)."""
    from datetime import UTC, datetime

    from reviewapp.monitoring import gauges
    from reviewapp.review import rollups

    north = CameraFactory(customer=world.acme, name="acme-north", metrics_group="north-site")
    base = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    for i, camera in enumerate((world.cam_a, world.cam_b, north)):
        for h in range(-30, 60, 2 + i):  # the day before, the day, the next day and after
            ClipFactory(camera=camera, status=Clip.Status.DONE, recorded_at=base + timedelta(hours=h, minutes=17))
    ClipFactory(camera=world.cam_a, status=Clip.Status.FAILED, recorded_at=base + timedelta(hours=5))  # not done
    rollups.rollups_rebuild()
    seen_halves = set()
    for h in range(24):
        start = base + timedelta(hours=h)
        expected: dict[str, int] = {}
        for clip in Clip.objects.filter(status=Clip.Status.DONE, recorded_at__gte=start).select_related("camera"):
            group = metrics.camera_group(clip.camera)
            expected[group] = expected.get(group, 0) + 1
        assert gauges._done_since(start) == expected, h
        seen_halves.add(h < 12)
    assert seen_halves == {True, False}


def test_camera_groups_use_the_operators_group_and_stay_bounded(world, staff_client, settings, monkeypatch):
    north = CameraFactory(customer=world.acme, name="acme-north", metrics_group="north-site")
    ClipFactory(camera=north, status=Clip.Status.FAILED)
    ClipFactory(camera=north, status=Clip.Status.FAILED)
    ClipFactory(camera=world.cam_a, status=Clip.Status.FAILED)
    samples = scrape(staff_client)
    assert value(samples, "vigia_clips_recent", camera_group="north-site", status="failed") == 2
    assert value(samples, "vigia_clips_recent", camera_group="Acme", status="failed") == 1
    assert metrics.camera_group(north) == "north-site"

    settings.METRICS_CAMERA_GROUP = "explicit"  # thousands of customers: only what operators grouped
    assert metrics.camera_group(world.cam_a) == "ungrouped"
    samples = scrape(staff_client)
    assert value(samples, "vigia_clips_recent", camera_group="ungrouped", status="failed") == 1
    assert value(samples, "vigia_clips_recent", camera_group="Acme", status="failed") == 0

    settings.METRICS_CAMERA_GROUP = "customer"
    settings.METRICS_MAX_CAMERA_GROUPS = 1
    for i in range(3):
        ClipFactory(camera=CameraFactory(customer=CustomerFactory(name=f"c{i}")), status=Clip.Status.FAILED)
    samples = scrape(staff_client)
    groups = {dict(labels)["camera_group"] for name, labels in samples if name == "vigia_clips_recent"}
    assert groups == {"north-site", "other"}
    assert value(samples, "vigia_clips_recent", camera_group="other", status="failed") == 4  # Acme + c0..c2

    # the same bound in a process's own counters: the first groups seen keep their name
    monkeypatch.setattr(metrics, "_seen_groups", set())
    assert metrics.camera_group(world.cam_a) == "Acme"
    assert metrics.camera_group(world.cam_b) == "other"
    assert metrics.camera_group(world.cam_a) == "Acme"


def test_no_label_carries_a_clip_or_camera_id(world, staff_client):
    clip = ClipFactory(camera=world.cam_a, status=Clip.Status.QUEUED)
    text = staff_client.get("/metrics").content.decode()
    assert str(clip.id) not in text and "acme-door" not in text


def test_a_failing_collector_is_reported_and_the_rest_still_scraped(world, staff_client):
    def broken():
        raise RuntimeError("database gone")

    metrics.register_db_collector("broken-test", broken)
    try:
        samples = scrape(staff_client)
    finally:
        metrics._db_collectors.pop("broken-test")
    assert value(samples, "vigia_metrics_collector_up", collector="broken-test") == 0
    assert value(samples, "vigia_metrics_collector_up", collector="review_queue") == 1
    assert ("vigia_review_queue_depth", frozenset({("reason", "near_threshold")})) in samples


def test_the_broker_queue_length_is_read_from_the_broker(world, staff_client, settings):
    from reviewapp.project.celery import app

    settings.METRICS_CELERY_QUEUES = ["metrics-test-queue"]
    with app.connection_for_write() as conn:
        broker_queue = conn.SimpleQueue("metrics-test-queue")
        broker_queue.put({"n": 1})
        broker_queue.put({"n": 2})
        try:
            samples = scrape(staff_client)
        finally:
            while True:
                try:
                    broker_queue.get(block=False).ack()
                except broker_queue.Empty:
                    break
            broker_queue.close()
    assert value(samples, "vigia_metrics_collector_up", collector="broker") == 1
    assert value(samples, "vigia_celery_queue_length", queue="metrics-test-queue") == 2


# ------------------------------------------------------------------------------- who may read


@pytest.mark.parametrize("who", ["customer_a", "reviewer", "ingest"])
def test_metrics_are_closed_to_customers_reviewers_and_services(world, client, who):
    user = getattr(world, who)
    client.force_login(user)
    assert client.get("/metrics").status_code == 403
    assert api_client(user).get("/metrics").status_code == 403  # their API token is no key either


def test_metrics_are_closed_to_anonymous_and_to_a_wrong_token(world, client, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="scrape-secret").status_code == 403
    assert b"vigia_" not in client.get("/metrics").content


def test_metrics_open_to_the_scraper_token_an_allowed_network_and_staff(world, client, settings):
    settings.METRICS_TOKEN = "scrape-secret"
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret").status_code == 200
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403  # no token set: none works
    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.1").status_code == 403
    # a forwarded header is not an address we trust
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.1", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 403
    client.force_login(world.operator)
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.1").status_code == 200


# --------------------------------------------------------------------- several processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_multiprocess_mode_sums_the_counters_of_every_process(tmp_path):
    """What gunicorn workers and Celery prefork children do: separate processes writing to one
    PROMETHEUS_MULTIPROC_DIR; the exposition (another process) sums them."""
    folder = tmp_path / "prom"
    folder.mkdir()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(folder),
        "DJANGO_SETTINGS_MODULE": "reviewapp.project.settings",
    }
    bump = textwrap.dedent("""
        import django; django.setup()
        from reviewapp.core import metrics
        metrics.DECISIONS.labels("no_person", "vigia").inc({n})
        metrics.DETECT_SECONDS.observe(1.5)
    """)
    for n in (2, 3):
        subprocess.run([sys.executable, "-c", bump.format(n=n)], cwd=ROOT, env=env, check=True, timeout=120)
    show = "import django; django.setup()\nfrom reviewapp.core import metrics\nprint(metrics.exposition(include_db=False).decode())"
    out = subprocess.run(
        [sys.executable, "-c", show], cwd=ROOT, env=env, check=True, timeout=120, capture_output=True, text=True
    )
    samples = parse(out.stdout)
    assert value(samples, "vigia_review_decisions_total", verdict="no_person", source="vigia") == 5
    assert value(samples, "vigia_clip_detect_seconds_count") == 2


def test_a_worker_serves_its_processes_metrics_on_its_port(settings):
    settings.WORKER_METRICS_PORT = _free_port()
    settings.WORKER_METRICS_ADDR = "127.0.0.1"
    metrics.TASKS.labels("reviewapp.tasks.process_clip", "success").inc()
    server = metrics.worker_metrics_serve()
    try:
        base = f"http://127.0.0.1:{settings.WORKER_METRICS_PORT}"
        body = urllib.request.urlopen(f"{base}/metrics", timeout=5).read().decode()
        assert (
            value(parse(body), "vigia_celery_tasks_total", task="reviewapp.tasks.process_clip", outcome="success") >= 1
        )
        assert "vigia_review_queue_depth" not in body  # database gauges only from the web app
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"{base}/other", timeout=5)
        assert err.value.code == 404
    finally:
        server.shutdown()
        server.server_close()


def test_a_worker_without_a_port_serves_nothing(settings):
    settings.WORKER_METRICS_PORT = 0
    assert metrics.worker_metrics_serve() is None


def test_a_taken_port_does_not_stop_the_worker(settings):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        settings.WORKER_METRICS_PORT = busy.getsockname()[1]
        settings.WORKER_METRICS_ADDR = "127.0.0.1"
        assert metrics.worker_metrics_serve() is None


def _rule(camera, **kwargs):
    from reviewapp.tuning.models import SuppressionRule

    return SuppressionRule.objects.create(
        camera=camera,
        x1=0.1,
        y1=0.1,
        x2=0.3,
        y2=0.4,
        descriptor=b"\0" * 8,
        descriptor_version=1,
        iou_min=0.5,
        similarity_min=0.85,
        source_score=0.6,
        **kwargs,
    )


def test_suppression_rules_and_what_they_prevent_are_gauges(world, staff_client):
    _rule(world.cam_a, hits=3)
    _rule(world.cam_a, hits=2, flagged=True)
    _rule(world.cam_b, expires_at=timezone.now() - timedelta(days=1))
    _rule(world.cam_b, active=False)
    # acme-door's threshold is 0.5: a rule kept this one from alerting, not the next one
    ClipFactory(camera=world.cam_a, score=0.1, alert=False, suppressed_score=0.7)
    ClipFactory(camera=world.cam_a, score=0.6, alert=True, suppressed_score=0.3)
    ClipFactory(camera=world.cam_a, score=0.6, alert=True)  # nothing suppressed
    samples = scrape(staff_client)
    assert [
        value(samples, "vigia_suppression_rules", state=s) for s in ("active", "flagged", "expired", "inactive")
    ] == [1, 1, 1, 1]
    assert value(samples, "vigia_suppression_rule_hits", camera_group="Acme") == 5
    assert value(samples, "vigia_clips_suppressed_recent", camera_group="Acme", kind="suppressed") == 2
    assert value(samples, "vigia_clips_suppressed_recent", camera_group="Acme", kind="alert_prevented") == 1

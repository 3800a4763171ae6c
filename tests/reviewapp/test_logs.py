"""Structured logs: JSON lines with the clip's context on every line of its journey, plain lines
in development; and the same in a real Celery worker process, with its task id."""

import io
import json
import logging
import os
import subprocess
import sys
import time
import urllib.request

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from reviewapp.core import logs
from reviewapp.review import ingest, processing
from reviewapp.review.models import Clip
from tests.conftest import api_client
from tests.factories import CameraFactory, CustomerFactory, make_user
from tests.reviewapp.test_metrics import _free_port, parse, value
from tests.workers import ROOT, database_url


@pytest.fixture
def captured():
    """The console handler as settings configure it (our filter and formatter) on a buffer."""
    buffers = {}

    def attach(fmt):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.addFilter(logs.ContextFilter())
        handler.setFormatter(
            logs.JsonFormatter()
            if fmt == "json"
            else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s%(context)s")
        )
        logging.getLogger().addHandler(handler)
        buffers[fmt] = (stream, handler)
        return stream

    yield attach
    for _stream, handler in buffers.values():
        logging.getLogger().removeHandler(handler)


def test_every_line_of_a_clips_journey_carries_its_id_and_camera(world, video, captured, settings):
    stream = captured("json")
    clip, _ = ingest.clip_ingest(camera=world.cam_a, path=str(video()), recorded_at=timezone.now())
    processing.clip_process(clip_id=clip.id)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    ours = [line for line in lines if line["logger"].startswith("reviewapp")]
    assert len(ours) >= 2  # ingested, done
    for line in ours:
        assert line["clip_id"] == str(clip.id), line
        assert line["camera"] == "acme-door", line
        assert {"time", "level", "logger", "message"} <= set(line)
    assert any("done: score" in line["message"] for line in ours)
    # the context ends with the clip: the next line carries none
    logging.getLogger("reviewapp.test").warning("after")
    last = json.loads(stream.getvalue().splitlines()[-1])
    assert "clip_id" not in last and "camera" not in last


def test_a_failed_clip_logs_its_error_with_its_context(world, video, captured, settings):
    from pathlib import Path

    from reviewapp.review import tasks

    stream = captured("json")
    clip, _ = ingest.clip_ingest(camera=world.cam_b, path=str(video()), recorded_at=timezone.now())
    (Path(settings.MEDIA_ROOT) / clip.file.name).write_bytes(b"garbage")
    tasks.process_clip(str(clip.id))
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    errors = [
        line for line in lines if line["level"] in ("ERROR", "WARNING") and line["logger"].startswith("reviewapp")
    ]
    assert errors and all(e["clip_id"] == str(clip.id) for e in errors)
    assert any("exc_info" in e for e in errors)  # the traceback is in the same JSON object


def test_plain_lines_are_readable_and_keep_the_context(captured):
    stream = captured("plain")
    with logs.log_context(clip_id="c-1", camera="door"):
        logging.getLogger("reviewapp.test").warning("something %s", "happened")
    logging.getLogger("reviewapp.test").warning("outside")
    first, second = stream.getvalue().splitlines()
    assert first.endswith("WARNING reviewapp.test something happened [clip_id=c-1 camera=door]")
    assert second.endswith("WARNING reviewapp.test outside")


def test_log_format_is_json_or_plain_and_nothing_else():
    env = {**os.environ, "LOG_FORMAT": "yaml", "DJANGO_SETTINGS_MODULE": "reviewapp.project.settings"}
    proc = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode != 0 and "LOG_FORMAT must be json or plain" in proc.stderr


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_logs_json_with_the_task_id_and_serves_its_childrens_metrics(video, settings, tmp_path):
    """The production shape: a prefork worker (the clip runs in a child process), JSON logs,
    PROMETHEUS_MULTIPROC_DIR, and the worker's own metrics port."""
    port = _free_port()
    prom = tmp_path / "prom"
    prom.mkdir()
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
        "BROKER_DIR": str(django_settings.BROKER_DIR),
        "AUDIT_SAMPLE_RATE": "0",
        "LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": str(prom),
        "WORKER_METRICS_PORT": str(port),
        "WORKER_METRICS_ADDR": "127.0.0.1",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "reviewapp.project",
            "worker",
            "-Q",
            "inference,default",
            "--concurrency",
            "1",
            "--pool",
            "prefork",
            "--loglevel",
            "INFO",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        camera = CameraFactory(customer=CustomerFactory(name="Acme"), name="acme-door")
        with open(video(frames=20), "rb") as f:
            response = api_client(make_user("ingest", "ingest")).post(
                "/api/v1/clips/",
                {"camera": camera.name, "file": f, "recorded_at": "2026-11-26T10:00:00Z"},
                format="multipart",
            )
        clip_id = response.json()["id"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and Clip.objects.get(id=clip_id).status in ("queued", "processing"):
            assert proc.poll() is None, "the worker died"
            time.sleep(0.3)
        assert Clip.objects.get(id=clip_id).status == Clip.Status.DONE
        body = ""
        while time.monotonic() < deadline:  # the counters are written just after the row
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            if value(parse(body), "vigia_celery_tasks_total", task="reviewapp.tasks.process_clip", outcome="success"):
                break
            time.sleep(0.3)
        samples = parse(body)
        assert (
            value(samples, "vigia_clips_processed_total", camera_group="Acme", alert="false")
            + value(samples, "vigia_clips_processed_total", camera_group="Acme", alert="true")
            == 1
        )
        # >= 1: the shared test broker may hold a stale message of an earlier test, which this worker
        # also runs (its clip is gone: nothing processed, nothing counted as a clip)
        assert value(samples, "vigia_celery_tasks_total", task="reviewapp.tasks.process_clip", outcome="success") >= 1
        assert value(samples, "vigia_clip_detect_seconds_count") == 1
    finally:
        proc.terminate()
        try:
            output, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
    lines = []
    for raw in output.splitlines():
        try:
            lines.append(json.loads(raw))
        except ValueError:
            continue  # OpenCV / FFmpeg write plain text to the same stream
    journey = [
        line for line in lines if line.get("logger", "").startswith("reviewapp") and clip_id in line.get("message", "")
    ]
    assert journey, output[-3000:]
    for line in journey:
        assert line["clip_id"] == clip_id and line["camera"] == "acme-door"
        # the clip's own task, then its preview's (queued once the result is recorded)
        assert line["task_id"] and line["task"] in ("reviewapp.tasks.process_clip", "reviewapp.tasks.make_preview")

"""A real Celery worker process on the real broker (Redis in CI, the filesystem transport by
default) processes a clip posted to the API."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from reviewapp.review.models import Clip
from tests.conftest import api_client
from tests.factories import CameraFactory, CustomerFactory, make_user

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def worker(settings, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        # The producer (this process) and the worker must share the broker: the same URL, and
        # for the filesystem transport the same folder.
        "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
        "BROKER_DIR": str(django_settings.BROKER_DIR),
        "AUDIT_SAMPLE_RATE": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "reviewapp.project", "worker", "-Q", "inference,default,exports",
         "--concurrency", "1", "--pool", "prefork", "--loglevel", "INFO", "--without-heartbeat", "--without-gossip",
         "--without-mingle"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    yield proc
    proc.terminate()
    try:
        output, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
    print(output[-5000:])


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_takes_a_posted_clip_from_queued_to_done(worker, video):
    camera = CameraFactory(customer=CustomerFactory(name="Acme"), name="acme-door")
    ingest = make_user("ingest", "ingest")
    with open(video(frames=30), "rb") as f:
        response = api_client(ingest).post(
            "/api/v1/clips/", {"camera": camera.name, "file": f, "recorded_at": "2026-11-26T10:00:00Z"}, format="multipart"
        )
    assert response.status_code == 201
    clip_id = response.json()["id"]
    deadline = time.monotonic() + 90
    status = "queued"
    while time.monotonic() < deadline and status in ("queued", "processing"):
        time.sleep(0.3)
        status = Clip.objects.get(id=clip_id).status
        assert worker.poll() is None, "the worker died"
    clip = Clip.objects.get(id=clip_id)
    assert clip.status == Clip.Status.DONE, clip.error
    assert clip.frames_sampled == 6 and clip.score is not None and clip.model_version.startswith("centernet-")

"""A real Celery worker process on the real broker (Redis in CI, the filesystem transport by
default) processes a clip posted to the API."""

import time

import pytest

from reviewapp.review.models import Clip
from tests.conftest import api_client
from tests.factories import CameraFactory, CustomerFactory, make_user


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_takes_a_posted_clip_from_queued_to_done(worker, video):
    camera = CameraFactory(customer=CustomerFactory(name="Acme"), name="acme-door")
    ingest = make_user("ingest", "ingest")
    with open(video(frames=30), "rb") as f:
        response = api_client(ingest).post(
            "/api/v1/clips/",
            {"camera": camera.name, "file": f, "recorded_at": "2026-11-26T10:00:00Z"},
            format="multipart",
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

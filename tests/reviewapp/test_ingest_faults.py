"""Ingest under real faults: the broker stopped at upload time, concurrent uploads of the
same bytes. Real processes: our own redis-server on a free loopback port, stopped and
started again; threads with their own database connections."""

import shutil
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from reviewapp.review import ingest, processing
from reviewapp.review.models import Clip
from tests.conftest import api_client
from tests.factories import ClipFactory
from tests.reviewapp.test_ingest import post_clip, stored_files
from tests.workers import free_port

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


@pytest.mark.django_db(transaction=True)  # on_commit callbacks run: the real commit
def test_an_upload_while_the_broker_is_down_is_kept_queued_and_sent_by_the_sweep(world, video, settings, redis_server):
    redis_server.stop()  # the broker is down: connection refused on its port
    response = post_clip(api_client(world.ingest), video())
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    clip = Clip.objects.get(id=body["id"])
    assert clip.status == Clip.Status.QUEUED
    assert (Path(settings.MEDIA_ROOT) / clip.file.name).is_file()  # the row's file is still there

    again = post_clip(api_client(world.ingest), video())  # the client's retry: the same clip
    assert (again.status_code, again.json()["id"]) == (200, body["id"])

    redis_server.start()  # the broker is back, empty (no persistence): the sweep sends the clip
    assert processing.clips_requeue_stuck(older_than=timedelta(0)) == 1
    assert redis_server.llen("inference") == 1


@pytest.mark.django_db(transaction=True)
def test_an_upload_with_the_broker_up_is_sent_at_once(world, video, redis_server):
    response = post_clip(api_client(world.ingest), video())
    assert response.status_code == 201, response.content
    assert redis_server.llen("inference") == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_of_the_same_bytes_all_answer_this_cameras_clip(world, video, monkeypatch, redis_server):
    # Another camera's clip without an external_id, first by primary key: the old race
    # branch's `.filter(Q(camera, sha256) | Q(external_id=None)).first()` answered it.
    other = ClipFactory(id=uuid.UUID(int=0), camera=world.cam_b, external_id=None)
    threads_n = 6
    barrier = threading.Barrier(threads_n)
    real_probe = ingest.probe

    def probe_then_wait(*args, **kwargs):
        info = real_probe(*args, **kwargs)
        barrier.wait(timeout=60)  # every thread has passed the "already stored?" check
        return info

    monkeypatch.setattr(ingest, "probe", probe_then_wait)
    path = str(video("same.mp4", seed=3))
    answers, errors = [], []

    def upload():
        try:
            answers.append(ingest.clip_ingest(camera=world.cam_a, path=path, recorded_at=timezone.now()))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=upload) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stored = Clip.objects.get(camera=world.cam_a)
    assert [created for _clip, created in answers].count(True) == 1
    assert {clip.id for clip, _created in answers} == {stored.id}
    assert other.id not in {clip.id for clip, _created in answers}
    assert Path(stored.file.path).is_file()


class DatabaseGone:
    """The database made unreachable for real: PostgreSQL on a port where nothing listens, or
    SQLite in a folder that does not exist; the open connection is closed."""

    def __init__(self):
        self.saved = dict(connection.settings_dict)

    def __enter__(self):
        if connection.vendor == "sqlite":
            connection.settings_dict["NAME"] = "/nonexistent-folder/vigia.sqlite3"
        else:
            connection.settings_dict["PORT"] = str(free_port())
        connection.close()
        return self

    def __exit__(self, *exc):
        connection.close()
        connection.settings_dict.update(self.saved)


@pytest.mark.django_db(transaction=True)
def test_an_upload_while_the_database_is_unreachable_is_a_503_and_leaves_no_file(world, video, settings, monkeypatch):
    from rest_framework.test import APIClient

    real_save = ingest._clip_save

    def save_without_database(clip):  # the file is stored by now: the row's insert fails
        with DatabaseGone():
            return real_save(clip)

    monkeypatch.setattr(ingest, "_clip_save", save_without_database)
    client = APIClient()
    client.force_authenticate(world.ingest)
    response = post_clip(client, video())
    assert response.status_code == 503, response.content
    assert response.json()["error"]["code"] == "service_unavailable" and response["Retry-After"]
    assert Clip.objects.count() == 0 and stored_files(settings) == []  # nothing half-stored

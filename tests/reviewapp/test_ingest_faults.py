"""Ingest under real faults: the broker stopped at upload time, concurrent uploads of the
same bytes. Real processes: our own redis-server on a free loopback port, stopped and
started again; threads with their own database connections."""

import shutil
import socket
import subprocess
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from celery import current_app
from django.db import connection
from django.utils import timezone

from reviewapp.review import ingest, processing
from reviewapp.review.models import Clip
from tests.conftest import api_client
from tests.factories import ClipFactory
from tests.reviewapp.test_ingest import post_clip, stored_files

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server of our own, without persistence, that a test stops and starts."""

    def __init__(self, port: int):
        self.port, self.proc = port, None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(200):  # wait until it answers (a readiness poll, not a timing assertion)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        self.proc.kill()
        self.proc.wait()

    def llen(self, key: str) -> int:
        out = subprocess.run(
            ["redis-cli", "-p", str(self.port), "llen", key], capture_output=True, text=True, check=True
        )
        return int(out.stdout.strip())


def _point_celery_at(url: str):
    conf = current_app.conf
    old = (conf.broker_url, conf.broker_transport_options)
    conf.broker_url, conf.broker_transport_options = url, {}
    current_app._after_fork()  # drop the pooled connections to the old broker
    return old


@pytest.fixture
def redis_broker():
    server = RedisServer(_free_port())
    server.start()
    old = _point_celery_at(f"redis://127.0.0.1:{server.port}/0")
    yield server
    current_app.conf.broker_url, current_app.conf.broker_transport_options = old
    current_app._after_fork()
    if server.proc.poll() is None:
        server.stop()


@pytest.mark.django_db(transaction=True)  # on_commit callbacks run: the real commit
def test_an_upload_while_the_broker_is_down_is_kept_queued_and_sent_by_the_sweep(world, video, settings, redis_broker):
    redis_broker.stop()  # the broker is down: connection refused on its port
    response = post_clip(api_client(world.ingest), video())
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    clip = Clip.objects.get(id=body["id"])
    assert clip.status == Clip.Status.QUEUED
    assert (Path(settings.MEDIA_ROOT) / clip.file.name).is_file()  # the row's file is still there

    again = post_clip(api_client(world.ingest), video())  # the client's retry: the same clip
    assert (again.status_code, again.json()["id"]) == (200, body["id"])

    redis_broker.start()  # the broker is back, empty (no persistence): the sweep sends the clip
    assert processing.clips_requeue_stuck(older_than=timedelta(0)) == 1
    assert redis_broker.llen("inference") == 1


@pytest.mark.django_db(transaction=True)
def test_an_upload_with_the_broker_up_is_sent_at_once(world, video, redis_broker):
    response = post_clip(api_client(world.ingest), video())
    assert response.status_code == 201, response.content
    assert redis_broker.llen("inference") == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_of_the_same_bytes_all_answer_this_cameras_clip(world, video, monkeypatch, redis_broker):
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
            connection.settings_dict["PORT"] = str(_free_port())
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

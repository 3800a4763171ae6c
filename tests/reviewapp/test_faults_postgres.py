"""PostgreSQL restarted under a worker (#12), for real: our own cluster (Debian's initdb/pg_ctl,
on a free loopback port, as the `postgres` user), 8 clips queued, the server stopped for 12 s
while the worker takes them. Every clip must end done once — none failed, none acked away —
and every alert sent once. Prints the recovery time."""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from tests.workers import ROOT, WORKER_ARGS

pytestmark = [pytest.mark.faults, pytest.mark.worker]

CLIPS = 8
OUTAGE_SECONDS = 12

SETUP = """
from django.utils import timezone
from reviewapp.review.demo import photo, write_clip
from reviewapp.review.ingest import clip_ingest
from reviewapp.review.models import Camera, Customer
camera = Camera.objects.create(customer=Customer.objects.create(name="Acme"), name="acme-door", threshold=0.05)
for i in range({n}):
    path = write_clip("{tmp}/clip-%d.mp4" % i, photo("astronaut"), seconds=2 + i, fps=5)
    clip_ingest(camera=camera, path=str(path), recorded_at=timezone.now())
"""


class Cluster:
    """A PostgreSQL cluster of our own, stopped and started at will."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="vigia-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._as_postgres("initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres", "--no-sync")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *argv):
        subprocess.run(["runuser", "-u", "postgres", "--", *argv], check=True, capture_output=True, timeout=120)

    def start(self):
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            "pg_ctl", "-D", str(self.dir / "data"), "-o", options, "-l", str(self.dir / "log"), "-w", "start"
        )

    def stop(self):
        self._as_postgres("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")

    def statuses(self) -> dict:
        with psycopg.connect(self.url) as conn:
            clips = dict(conn.execute("select status, count(*) from reviewapp_clip group by status").fetchall())
            alerts = dict(conn.execute("select status, count(*) from reviewapp_alertoutbox group by status").fetchall())
        return {"clips": clips, "alerts": alerts}


@pytest.fixture
def cluster():
    assert shutil.which("initdb") and shutil.which("runuser"), "Debian's PostgreSQL server (initdb, pg_ctl) is needed"
    c = Cluster()
    c.start()
    yield c
    with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
        c.stop()
    shutil.rmtree(c.dir, ignore_errors=True)


def test_a_postgresql_restart_fails_no_clip_and_loses_no_alert(cluster, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": cluster.url,
        "CELERY_BROKER_URL": "filesystem://",
        "BROKER_DIR": str(tmp_path / "broker"),
        "MEDIA_ROOT": str(tmp_path / "media"),
        "AUDIT_SAMPLE_RATE": "0",
        "TRANSIENT_RETRY_SECONDS": "2",
        "LOG_FORMAT": "plain",
    }
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300)
    setup = SETUP.format(n=CLIPS, tmp=tmp_path)
    subprocess.run([*manage, "shell", "-c", setup], cwd=ROOT, env=env, check=True, timeout=300)
    assert cluster.statuses()["clips"] == {"queued": CLIPS}

    cluster.stop()  # the worker starts, and takes the queued clips, while the database is down
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed below, after the worker
    worker = subprocess.Popen([sys.executable, "-m", "celery", *WORKER_ARGS], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        time.sleep(OUTAGE_SECONDS)
        cluster.start()
        back = time.monotonic()
        deadline = back + 120
        while time.monotonic() < deadline:
            assert worker.poll() is None, "the worker died"
            state = cluster.statuses()
            if state["clips"].get("done") == CLIPS and state["alerts"].get("sent") == CLIPS:
                break
            time.sleep(0.5)
        recovery = time.monotonic() - back
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
    output = (tmp_path / "worker.log").read_text()
    print(output[-3000:])
    requeued = output.count("the message goes back to the queue")
    print(
        f"PostgreSQL down {OUTAGE_SECONDS} s -> {state} {recovery:.1f} s after it was back"
        f" ({requeued} messages given back during the outage)"
    )
    assert state == {"clips": {"done": CLIPS}, "alerts": {"sent": CLIPS}}, state
    assert requeued, "the worker never met the outage: the test did not test it"
    with psycopg.connect(cluster.url) as conn:
        assert conn.execute("select count(*) from reviewapp_clip where alert_sent_at is null").fetchone() == (0,)

"""A real Celery worker process for the tests (`pytest_plugins` in tests/conftest.py): on the
same broker and database as the test, so what the test queues, the worker runs."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


WORKER_ARGS = [
    "-A",
    "reviewapp.project",
    "worker",
    "-Q",
    "inference,default,exports",
    "--concurrency",
    "1",
    "--pool",
    "prefork",
    "--loglevel",
    "INFO",
    "--without-heartbeat",
    "--without-gossip",
    "--without-mingle",
]


@pytest.fixture
def start_worker(settings):
    """Start a worker process: `start_worker(env={...}, module="celery", args=("-B",))` — extra
    environment (settings of the worker), the module run with `python -m` (one that ends in
    Celery's main), and extra arguments of the worker."""
    procs = []

    def start(*, env: dict | None = None, module: str = "celery", args: tuple = ()) -> subprocess.Popen:
        full_env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            # The producer (this process) and the worker must share the broker: the same URL, and
            # for the filesystem transport the same folder.
            "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
            "BROKER_DIR": str(django_settings.BROKER_DIR),
            "AUDIT_SAMPLE_RATE": "0",
            **(env or {}),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *WORKER_ARGS, *args],
            cwd=ROOT,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.terminate()
        try:
            output, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        print(output[-5000:])


@pytest.fixture
def worker(start_worker):
    return start_worker()


@pytest.fixture
def redis_broker(tmp_path):
    """Our own `redis-server` on a free loopback port, without persistence, as the broker of this
    test and of the workers it starts (pass the URL as their CELERY_BROKER_URL). Celery's prefork
    pool runs its asynchronous form (the one that checks a new process's start-up time, and
    restores unacked messages) only on a broker like this one, not on the filesystem transport."""
    import shutil
    import socket
    import time

    from celery import current_app

    server = shutil.which("redis-server")
    assert server, "redis-server is needed (apt-get install redis-server)"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    url = f"redis://127.0.0.1:{port}/0"
    app, saved = current_app, (current_app.conf.broker_url, current_app.conf.broker_transport_options)

    def use(broker_url, options):
        if app._pool is not None:
            app._pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None
        app.conf.broker_url, app.conf.broker_transport_options = broker_url, options

    use(url, {"visibility_timeout": django_settings.BROKER_VISIBILITY_TIMEOUT})
    yield url
    use(*saved)
    proc.terminate()
    proc.wait(timeout=10)

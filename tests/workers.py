"""A real Celery worker process for the tests (`pytest_plugins` in tests/conftest.py): on the
same broker and database as the test, so what the test queues, the worker runs."""

import os
import shutil
import socket
import subprocess
import sys
import time
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A redis-server of our own on a free loopback port, without persistence (a restart comes
    back empty), that a test stops and starts."""

    def __init__(self, port: int | None = None, *, directory=None):
        self.port, self.proc, self.directory = port or free_port(), None, directory
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        server = shutil.which("redis-server")
        assert server, "redis-server is needed (apt-get install redis-server)"
        args = [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        if self.directory:
            args += ["--dir", str(self.directory)]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:  # wait until it answers (a readiness poll, not a timing assertion)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def llen(self, key: str) -> int:
        out = subprocess.run(
            ["redis-cli", "-p", str(self.port), "llen", key], capture_output=True, text=True, check=True
        )
        return int(out.stdout.strip())


_FOLLOW = object()


def point_celery_at(broker_url: str, options: dict, env_url=_FOLLOW) -> tuple:
    """Make this process's Celery app send to another broker; returns what to give back to
    restore it. Celery reads CELERY_BROKER_URL from the environment before its configuration
    (CI sets it), so the variable is switched too. kombu keeps its connection pools in a global
    registry keyed by URL: closing one in place (force_close_all) leaves a closed pool there, and
    every later send to that URL fails with "Acquire on closed pool"; pools.reset() closes them
    all and empties the registry."""
    from celery import current_app
    from kombu import pools

    app = current_app
    saved = (app.conf.broker_url, app.conf.broker_transport_options, os.environ.get("CELERY_BROKER_URL"))
    pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.broker_url, app.conf.broker_transport_options = broker_url, options
    if env_url is _FOLLOW:
        env_url = broker_url  # pointing elsewhere: the variable follows (a restore passes the saved one)
    if env_url is None:
        os.environ.pop("CELERY_BROKER_URL", None)
    else:
        os.environ["CELERY_BROKER_URL"] = env_url
    return saved


@pytest.fixture
def redis_server(tmp_path):
    """Our own redis-server (see RedisServer) as this test's broker, restored afterwards."""
    server = RedisServer(directory=tmp_path)
    server.start()
    saved = point_celery_at(server.url, {"visibility_timeout": django_settings.BROKER_VISIBILITY_TIMEOUT})
    yield server
    point_celery_at(*saved)
    server.stop()


@pytest.fixture
def redis_broker(redis_server):
    """The URL of our own redis-server as the broker of this test and of the workers it starts
    (pass it as their CELERY_BROKER_URL). Celery's prefork pool runs its asynchronous form (the one
    that checks a new process's start-up time, and restores unacked messages) only on a broker
    like this one, not on the filesystem transport."""
    return redis_server.url

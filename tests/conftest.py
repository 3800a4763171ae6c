import pytest
from rest_framework.test import APIClient

from reviewapp.core import aws
from tests.factories import CameraFactory, CustomerFactory, make_user

pytest_plugins = ["tests.workers"]  # the `worker` fixture: a real Celery worker process


@pytest.fixture(autouse=True)
def _media_and_broker(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.AUDIT_SAMPLE_RATE = 0.0
    # Off unless a test turns it on: tests on fixed dates must not depend on today's (the rollups'
    # rebuild stops at the retention's horizon).
    settings.CLIP_RETENTION_DAYS = 0
    from django.core.cache import cache

    cache.clear()  # the throttles' and the login limit's counters start at zero in every test
    # Fast hashing: the fixtures create many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def default_tags(db):
    """The tags the data migration seeds. A transactional test's flush removes them, so tests
    that need them ask for this instead of relying on test order."""
    from importlib import import_module

    from django.apps import apps

    import_module("reviewapp.migrations.0002_seed_tags").seed(apps, None)


@pytest.fixture
def world(db, default_tags):
    """Two customers with a camera each, and one user of every role."""

    class World:
        pass

    w = World()
    w.acme = CustomerFactory(name="Acme")
    w.globex = CustomerFactory(name="Globex")
    w.cam_a = CameraFactory(customer=w.acme, name="acme-door")
    w.cam_b = CameraFactory(customer=w.globex, name="globex-gate")
    w.reviewer = make_user("rita", "reviewer")
    w.reviewer2 = make_user("rob", "reviewer")
    w.customer_a = make_user("alice", "customer", w.acme)
    w.customer_b = make_user("bob", "customer", w.globex)
    w.ingest = make_user("ingest", "ingest")
    w.operator = make_user("olga", staff=True)
    return w


def api_client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {user.auth_token.key}")
    return client


@pytest.fixture
def video(tmp_path):
    from tests.videos import write_video

    def make(name="clip.mp4", **kwargs):
        return write_video(tmp_path / name, **kwargs)

    return make


@pytest.fixture(scope="session")
def aws_endpoint():
    """An S3/SNS/SQS/DynamoDB-compatible server over HTTP on loopback (moto's server)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    aws.reset()
    yield
    aws.reset()


# --- labels out (tests/labeling/) -------------------------------------------------------------
def pytest_configure(config):
    _compile_translations()
    config.addinivalue_line("markers", "label_studio: talks to a real Label Studio server started by the tests")


def _compile_translations():
    """The translations, compiled as `make install` does (the .mo files are not in git), before
    Django reads them."""
    import runpy
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    runpy.run_path(str(root / "scripts" / "compile_messages.py"))["compile_all"](root)

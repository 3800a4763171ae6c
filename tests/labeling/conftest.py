"""Real outside servers for the labeling tests: DynamoDB over HTTP (moto's server, from
tests/conftest.py) and a real Label Studio 1.23.2 started once per session."""

import uuid

import pytest

from labeling.sync import dynamo
from labeling.sync import label_studio as ls
from reviewapp.core import aws
from tests.labeling import servers
from tests.labeling.servers import LS_TOKEN


@pytest.fixture
def dynamo_table(settings, aws_endpoint, aws_env):
    """A fresh table on the moto server for each test."""
    settings.DYNAMODB_TABLE = f"clips-{uuid.uuid4().hex[:8]}"
    settings.AWS_DYNAMODB_ENDPOINT_URL = aws_endpoint
    aws.reset()
    assert dynamo.table_create()
    yield settings.DYNAMODB_TABLE
    # (a test may have wrapped the client with monkeypatch, undone after this runs)
    getattr(dynamo._client, "cache_clear", lambda: None)()


@pytest.fixture(scope="session")
def label_studio_server():
    """A real Label Studio on 127.0.0.1, fresh data dir. Installing it is scripts/label_studio.sh
    (`make test` runs it first); if it cannot be installed or started, these tests FAIL."""
    try:
        installed = servers.ensure_installed()
        if installed:
            print(f"label studio installed in {installed:.0f} s")
        with servers.label_studio_server() as (url, started):
            print(f"label studio up in {started:.0f} s")
            yield url
    except servers.LabelStudioUnavailable as exc:
        pytest.fail(f"a real Label Studio is required: {exc}")


@pytest.fixture
def label_studio(settings, label_studio_server):
    """Settings pointing at the real server, a project of our own for this test."""
    settings.LABEL_STUDIO_URL = label_studio_server
    settings.LABEL_STUDIO_API_KEY = LS_TOKEN
    settings.LABEL_STUDIO_PROJECT = f"Vigia test {uuid.uuid4().hex[:8]}"
    settings.LABEL_STUDIO_WEBHOOK_SECRET = "s3cret-" + uuid.uuid4().hex
    ls.reset()
    yield label_studio_server
    ls.reset()

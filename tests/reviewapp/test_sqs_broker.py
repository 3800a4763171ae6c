"""The SQS broker for real (docs/operations.md#scaling-out): kombu's SQS transport, receiving with
pycurl, against moto's server over HTTP. The app sends to the three queues of the settings'
predefined_queues, a real worker process takes the clip from the inference queue."""

import runpy
import time
import uuid
from pathlib import Path

import boto3
import pytest

from reviewapp.review.models import Clip
from tests.conftest import api_client
from tests.factories import CameraFactory, CustomerFactory, make_user
from tests.workers import point_celery_at

ROOT = Path(__file__).resolve().parents[2]
QUEUES = ("inference", "default", "exports")


@pytest.fixture
def sqs_broker(aws_endpoint, aws_env, monkeypatch):
    """Three queues on moto; this process's app and the workers it starts on them, by the
    settings module's own reading of CELERY_BROKER_URL=sqs:// and AWS_SQS_ENDPOINT_URL."""
    sqs = boto3.client("sqs", endpoint_url=aws_endpoint, region_name="us-east-1")
    suffix = uuid.uuid4().hex[:12]  # moto lives for the whole session
    urls = {q: sqs.create_queue(QueueName=f"vigia-{q}-{suffix}")["QueueUrl"] for q in QUEUES}
    env = {
        "CELERY_BROKER_URL": "sqs://",
        "AWS_SQS_ENDPOINT_URL": aws_endpoint,
        "AWS_REGION": "us-east-1",
        **{f"CELERY_SQS_QUEUE_URL_{q.upper()}": url for q, url in urls.items()},
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    production = runpy.run_path(str(ROOT / "reviewapp/project/settings.py"))
    # Celery takes CELERY_BROKER_URL from the environment over its configuration: this process
    # sends by its configuration (point_celery_at), the worker by the variable and the settings.
    monkeypatch.delenv("CELERY_BROKER_URL")
    broker_url, options = production["CELERY_BROKER_WRITE_URL"], production["CELERY_BROKER_TRANSPORT_OPTIONS"]
    assert broker_url == f"sqs://{aws_endpoint.removeprefix('http://')}" and options["is_secure"] is False
    assert production["CELERY_BROKER_READ_URL"] == broker_url
    saved = point_celery_at(broker_url, options)
    yield sqs, urls, env
    point_celery_at(*saved)


def depth(sqs, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attrs[n]) for n in names)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_on_sqs_takes_a_posted_clip_to_done(sqs_broker, start_worker, video):
    sqs, urls, env = sqs_broker
    camera = CameraFactory(customer=CustomerFactory(name="Acme"), name="acme-door")
    with open(video(frames=30), "rb") as f:
        response = api_client(make_user("ingest", "ingest")).post(
            "/api/v1/clips/",
            {"camera": camera.name, "file": f, "recorded_at": "2026-11-26T10:00:00Z"},
            format="multipart",
        )
    assert response.status_code == 201, response.content
    clip_id = response.json()["id"]
    assert depth(sqs, urls["inference"]) == 1  # on SQS, waiting: no worker yet
    worker = start_worker(env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and Clip.objects.get(id=clip_id).status in ("queued", "processing"):
        assert worker.poll() is None, "the worker died"
        time.sleep(0.3)
    clip = Clip.objects.get(id=clip_id)
    assert clip.status == Clip.Status.DONE, clip.error
    assert clip.frames_sampled == 6 and clip.score is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and depth(sqs, urls["inference"]):
        time.sleep(0.3)
    assert depth(sqs, urls["inference"]) == 0  # acked: deleted from the queue

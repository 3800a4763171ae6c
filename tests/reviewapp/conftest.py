"""Fixtures of the review tests: a clip bucket that notifies an SQS queue (moto's server over HTTP)."""

import json
import runpy
import uuid
from pathlib import Path

import boto3
import pytest
from django.core.files.storage import storages

from reviewapp.core import aws
from reviewapp.review import sqs

ROOT = Path(__file__).resolve().parents[2]


class Bucket:
    def __init__(self, endpoint: str):
        kwargs = {"endpoint_url": endpoint, "region_name": "us-east-1"}
        self.s3, self.sqs = boto3.client("s3", **kwargs), boto3.client("sqs", **kwargs)
        suffix = uuid.uuid4().hex[:12]  # the server lives for the whole session
        self.name = f"vigia-clips-{suffix}"
        self.s3.create_bucket(Bucket=self.name)
        self.dlq = self.sqs.create_queue(QueueName=f"clip-events-dlq-{suffix}")["QueueUrl"]
        redrive = {"deadLetterTargetArn": self._arn(self.dlq), "maxReceiveCount": "3"}
        self.queue = self.sqs.create_queue(
            QueueName=f"clip-events-{suffix}",
            Attributes={"VisibilityTimeout": "2", "RedrivePolicy": json.dumps(redrive)},
        )["QueueUrl"]
        rules = [{"Name": "prefix", "Value": "clips/"}]
        self.s3.put_bucket_notification_configuration(
            Bucket=self.name,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": self._arn(self.queue),
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": rules}},
                    }
                ]
            },
        )

    def _arn(self, url: str) -> str:
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def put(self, key: str, path_or_bytes, content_type="video/mp4", metadata=None) -> None:
        body = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
        self.s3.put_object(Bucket=self.name, Key=key, Body=body, ContentType=content_type, Metadata=metadata or {})

    def drain_test_event(self) -> None:
        for m in self.sqs.receive_message(QueueUrl=self.queue, WaitTimeSeconds=1).get("Messages", []):
            assert "s3:TestEvent" in m["Body"]
            self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=m["ReceiptHandle"])

    def depth(self, url: str) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return sum(int(attrs[n]) for n in names)

    def dead_letters(self) -> list[dict]:
        r = self.sqs.receive_message(
            QueueUrl=self.dlq, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        )
        return r.get("Messages", [])


@pytest.fixture
def bucket(settings, aws_endpoint, aws_env, monkeypatch):
    b = Bucket(aws_endpoint)
    values = {
        "CLIP_BUCKET": b.name,
        "AWS_S3_ENDPOINT_URL": aws_endpoint,
        "AWS_SQS_ENDPOINT_URL": aws_endpoint,
        "CLIP_EVENTS_QUEUE_URL": b.queue,
    }
    for name, value in values.items():
        setattr(settings, name, value)
        monkeypatch.setenv(name, value)  # for the consumer and worker processes
    # The storage the settings module makes for these variables (the object metadata included).
    production = runpy.run_path(str(ROOT / "reviewapp/project/settings.py"))["DEFAULT_STORAGE"]
    assert production["BACKEND"] == "storages.backends.s3.S3Storage"
    settings.STORAGES = {**settings.STORAGES, "default": production}
    storages._storages = {}
    sqs.dead_letter_url.cache_clear()
    yield b
    storages._storages = {}
    aws.reset()

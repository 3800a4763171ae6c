"""The alert outbox (reviewapp.review.alerts): decided with the clip's result, sent by its own
step, retried, swept, visible; SNS over HTTP on moto's server."""

import json
import socket
import uuid
from datetime import timedelta

import boto3
import pytest
from django.db import transaction
from django.utils import timezone

from reviewapp.review import alerts, processing, sns
from reviewapp.review.demo import photo, write_clip
from reviewapp.review.models import AlertOutbox, Clip
from tests.factories import ClipFactory


def owed(clip, capture):
    """The clip's alert recorded as the worker does (in a transaction); the send it queues on
    commit is captured, not run."""
    with capture() as callbacks, transaction.atomic():
        alerts.alert_record(clip=clip)
    return callbacks


class Inbox:
    """An SNS topic with an SQS queue subscribed to it, on moto's server: what a customer's
    side receives."""

    def __init__(self, endpoint: str, *, fifo: bool = False):
        kwargs = {"endpoint_url": endpoint, "region_name": "us-east-1"}
        suffix = uuid.uuid4().hex[:8] + (".fifo" if fifo else "")
        attributes = {"FifoTopic": "true", "ContentBasedDeduplication": "false"} if fifo else {}
        self.topic = boto3.client("sns", **kwargs).create_topic(Name=f"alerts-{suffix}", Attributes=attributes)[
            "TopicArn"
        ]
        self.sqs = boto3.client("sqs", **kwargs)
        queue_attributes = {"FifoQueue": "true"} if fifo else {}
        self.url = self.sqs.create_queue(QueueName=f"inbox-{suffix}", Attributes=queue_attributes)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        boto3.client("sns", **kwargs).subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=arn)

    def receive(self, wait: int = 1) -> list[dict]:
        """Every notification waiting (deleted once read), as SNS's envelopes."""
        out = []
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=wait).get(
                "Messages", []
            )
            if not batch:
                return out
            for m in batch:
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
            wait = 0


@pytest.fixture
def inbox(settings, aws_endpoint, aws_env):
    box = Inbox(aws_endpoint)
    settings.ALERT_SNS_TOPIC_ARN = box.topic
    settings.AWS_SNS_ENDPOINT_URL = aws_endpoint
    return box


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens here once closed


# ---------------------------------------------------------------- decided with the result


def test_a_clip_that_alerts_commits_its_alert_with_its_result_and_queues_the_send(
    world, tmp_path, django_capture_on_commit_callbacks, monkeypatch
):
    from tests.reviewapp.test_pipeline import ingest_clip

    world.cam_a.threshold = 0.05  # the astronaut scores far above this
    world.cam_a.save()
    clip = ingest_clip(world.cam_a, write_clip(tmp_path / "a.mp4", photo("astronaut"), seconds=2, fps=5))
    queued = []
    monkeypatch.setattr(alerts, "alert_enqueue", queued.append)  # the broker's edge
    with django_capture_on_commit_callbacks(execute=True):
        processing.clip_process(clip_id=clip.id)
    clip.refresh_from_db()
    assert clip.status == Clip.Status.DONE and clip.alert is True
    outbox = AlertOutbox.objects.get(clip=clip)
    assert outbox.status == AlertOutbox.Status.PENDING and outbox.attempts == 0 and clip.alert_sent_at is None
    assert queued == [clip.id]  # the send, queued once the result committed


def test_a_clip_that_does_not_alert_owes_nothing(world, tmp_path):
    from tests.reviewapp.test_pipeline import ingest_clip

    world.cam_a.threshold = 1.0
    world.cam_a.save()
    clip = ingest_clip(world.cam_a, write_clip(tmp_path / "a.mp4", photo("astronaut"), seconds=2, fps=5))
    processing.clip_process(clip_id=clip.id)
    clip.refresh_from_db()
    assert clip.status == Clip.Status.DONE and clip.alert is False
    assert not AlertOutbox.objects.filter(clip=clip).exists()


def test_recording_an_alert_twice_keeps_one_row_and_queues_one_send(world, django_capture_on_commit_callbacks):
    clip = ClipFactory(camera=world.cam_a)
    assert len(owed(clip, django_capture_on_commit_callbacks)) == 1
    assert len(owed(clip, django_capture_on_commit_callbacks)) == 0
    assert AlertOutbox.objects.filter(clip=clip).count() == 1


# ---------------------------------------------------------------- sending


def test_an_alert_is_sent_once_and_marks_the_clip(world, caplog, django_capture_on_commit_callbacks):
    clip = ClipFactory(camera=world.cam_a, alert=True, score=0.9)
    owed(clip, django_capture_on_commit_callbacks)
    with caplog.at_level("INFO", logger="reviewapp.review.sns"):
        assert alerts.alert_send(clip_id=clip.id) is True
        assert alerts.alert_send(clip_id=clip.id) is False  # a retried task, a second worker
    assert sum("alert (no SNS topic configured)" in r.message for r in caplog.records) == 1
    clip.refresh_from_db()
    outbox = AlertOutbox.objects.get(clip=clip)
    assert outbox.status == AlertOutbox.Status.SENT and outbox.attempts == 1
    assert clip.alert_sent_at == outbox.sent_at is not None


def test_a_try_in_flight_holds_the_alert_from_a_second_sender(world, django_capture_on_commit_callbacks):
    clip = ClipFactory(camera=world.cam_a)
    owed(clip, django_capture_on_commit_callbacks)
    assert alerts._claim(clip.id) is not None  # a sender that is still publishing (or died doing it)
    assert alerts.alert_send(clip_id=clip.id) is False
    assert alerts.alerts_send_due() == 0
    # Its lease run out (the sender died): the sweep sends it.
    AlertOutbox.objects.filter(clip=clip).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert alerts.alert_send(clip_id=clip.id) is True


def test_an_alert_reaches_an_sns_topic_over_http_with_the_clip_id_as_its_key(
    world, inbox, django_capture_on_commit_callbacks
):
    clip = ClipFactory(camera=world.cam_a, alert=True, score=0.93)
    owed(clip, django_capture_on_commit_callbacks)
    assert alerts.alert_send(clip_id=clip.id) is True
    (envelope,) = inbox.receive()
    body = json.loads(envelope["Message"])
    assert body["clip_id"] == str(clip.id) and body["camera"] == "acme-door" and body["score"] == 0.93
    assert envelope["MessageAttributes"]["clip_id"]["Value"] == str(clip.id)
    assert AlertOutbox.objects.get(clip=clip).message_id == envelope["MessageId"]


def test_a_fifo_topic_gets_the_clip_id_as_deduplication_id_and_the_camera_as_group(
    world, settings, aws_endpoint, aws_env, django_capture_on_commit_callbacks
):
    box = Inbox(aws_endpoint, fifo=True)
    settings.ALERT_SNS_TOPIC_ARN, settings.AWS_SNS_ENDPOINT_URL = box.topic, aws_endpoint
    clip = ClipFactory(camera=world.cam_a, alert=True, score=0.93)
    message = alerts.alert_message(clip)
    # The same alert published twice (a sender that died before marking it sent): SNS FIFO drops the repeat.
    sns.publish_alert(message=message, group_id="acme-door", dedup_id=str(clip.id))
    sns.publish_alert(message=message, group_id="acme-door", dedup_id=str(clip.id))
    received = box.receive()
    assert [json.loads(e["Message"])["clip_id"] for e in received] == [str(clip.id)]


def test_a_permanent_sns_error_fails_the_alert_visibly_until_sent_again(
    world, settings, aws_endpoint, aws_env, django_capture_on_commit_callbacks, client, monkeypatch
):
    settings.ALERT_SNS_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:does-not-exist"
    settings.AWS_SNS_ENDPOINT_URL = aws_endpoint
    clip = ClipFactory(camera=world.cam_a, alert=True, score=0.93)
    owed(clip, django_capture_on_commit_callbacks)
    assert alerts.alert_send(clip_id=clip.id) is False
    outbox = AlertOutbox.objects.get(clip=clip)
    assert outbox.status == AlertOutbox.Status.FAILED and "NotFound" in outbox.last_error
    clip.refresh_from_db()
    assert clip.alert_sent_at is None
    assert alerts.alerts_send_due() == 0  # not retried by itself: it would fail the same way

    from django.contrib.auth.models import Permission

    world.operator.user_permissions.add(*Permission.objects.filter(codename__endswith="alertoutbox"))
    client.force_login(world.operator)
    page = client.get("/admin/reviewapp/alertoutbox/?status=failed")
    assert page.status_code == 200 and str(clip.id) in page.content.decode()
    queued = []
    monkeypatch.setattr(alerts, "alert_enqueue", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/reviewapp/alertoutbox/", {"action": "send_again", "_selected_action": [outbox.id]}
        )
    assert response.status_code == 302
    assert AlertOutbox.objects.get(clip=clip).status == AlertOutbox.Status.PENDING and queued == [clip.id]


def test_an_unreachable_sns_leaves_the_alert_pending_with_a_growing_backoff(
    world, settings, aws_env, django_capture_on_commit_callbacks
):
    settings.ALERT_SNS_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:vigia-alerts"
    settings.AWS_SNS_ENDPOINT_URL = f"http://127.0.0.1:{closed_port()}"
    clip = ClipFactory(camera=world.cam_a, alert=True, score=0.93)
    owed(clip, django_capture_on_commit_callbacks)
    delays = []
    for _ in range(3):
        with pytest.raises(alerts.AlertRetryLater) as raised:
            alerts.alert_send(clip_id=clip.id)
        delays.append(raised.value.delay)
        outbox = AlertOutbox.objects.get(clip=clip)
        assert outbox.status == AlertOutbox.Status.PENDING and "unreachable" in outbox.last_error
        assert outbox.next_attempt_at > timezone.now()
        assert alerts.alert_send(clip_id=clip.id) is False  # not due yet
        AlertOutbox.objects.filter(clip=clip).update(next_attempt_at=timezone.now())
    assert delays == [5.0, 10.0, 20.0]
    assert AlertOutbox.objects.get(clip=clip).attempts == 3
    clip.refresh_from_db()
    assert clip.alert_sent_at is None


def test_the_sweep_queues_the_due_alerts_only(world, django_capture_on_commit_callbacks, monkeypatch):
    due, later, sent = (ClipFactory(camera=world.cam_a) for _ in range(3))
    for clip in (due, later, sent):
        owed(clip, django_capture_on_commit_callbacks)  # their queued sends were lost (a worker died)
    AlertOutbox.objects.filter(clip=later).update(next_attempt_at=timezone.now() + timedelta(minutes=1))
    alerts.alert_send(clip_id=sent.id)
    queued = []
    monkeypatch.setattr(alerts, "alert_enqueue", queued.append)
    assert alerts.alerts_send_due() == 1
    assert queued == [due.id]


def test_the_send_task_retries_a_transient_error_with_the_backoff(
    world, settings, aws_env, django_capture_on_commit_callbacks, monkeypatch
):
    from celery.exceptions import Retry

    from reviewapp.review import tasks

    settings.ALERT_SNS_TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:vigia-alerts"
    settings.AWS_SNS_ENDPOINT_URL = f"http://127.0.0.1:{closed_port()}"
    clip = ClipFactory(camera=world.cam_a)
    owed(clip, django_capture_on_commit_callbacks)
    retried = {}

    def retry(**kwargs):
        retried.update(kwargs)
        return Retry()

    monkeypatch.setattr(tasks.alert_send, "retry", retry)  # the broker's edge
    with pytest.raises(Retry):
        tasks.alert_send.run(str(clip.id))
    assert retried["countdown"] == 5.0

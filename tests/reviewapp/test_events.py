"""Clips from the bucket, by event, against moto's server over HTTP: a bucket whose notification
configuration sends ObjectCreated to an SQS queue (with a dead-letter queue), the consumer in
this process or as a real `manage.py consume_clip_events` process, killed with SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from prometheus_client import REGISTRY

from reviewapp.review import events, ingest, processing
from reviewapp.review.models import Clip
from tests.workers import ROOT, database_url


def consume(bucket, polls: int = 3) -> int:
    import threading

    return events.consume(queue_url=bucket.queue, stop=threading.Event(), wait_seconds=1, batches=polls)


def rejected(reason: str) -> float:
    return REGISTRY.get_sample_value("vigia_clip_events_rejected_total", {"reason": reason}) or 0.0


# ------------------------------------------------------------------ the consumer in this process


@pytest.mark.django_db(transaction=True)
def test_an_object_put_in_the_bucket_becomes_a_clip_by_reference_and_is_processed(world, video, bucket):
    key = "clips/acme-door/2026/11/30/cam 1+front.mp4"  # URL-encoded in the event: space and plus
    bucket.put(key, video(frames=30), metadata={"recorded-at": "2026-11-30T12:00:00Z"})
    bucket.put("clips/acme-door/2026/11/30/no-metadata.mp4", video("b.mp4", frames=30, seed=1))
    consume(bucket)

    clip = Clip.objects.get(external_id=f"s3://{bucket.name}/{key}")
    assert clip.file.name == key and clip.camera == world.cam_a  # by reference: the object itself
    assert clip.recorded_at == datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert clip.status == Clip.Status.QUEUED and clip.duration == 3.0 and clip.size_bytes > 0
    other = Clip.objects.get(file="clips/acme-door/2026/11/30/no-metadata.mp4")
    assert abs(other.recorded_at - datetime.now(UTC)) < timedelta(minutes=5)  # the event's time
    assert bucket.s3.list_objects_v2(Bucket=bucket.name)["KeyCount"] == 2  # nothing copied
    assert bucket.depth(bucket.queue) == 0 and bucket.depth(bucket.dlq) == 0  # the test event too

    processing.clip_process(clip_id=clip.id)  # read from where it landed
    clip.refresh_from_db()
    assert clip.status == Clip.Status.DONE and clip.frames_sampled == 6


@pytest.mark.django_db
def test_a_redelivered_event_makes_no_second_clip(world, video, bucket, settings):
    bucket.put("clips/acme-door/a.mp4", video())
    consume(bucket, polls=2)
    assert Clip.objects.count() == 1
    # SQS delivers at least once: the same notification again, twice.
    body = {
        "Records": [
            {
                "eventName": "ObjectCreated:Put",
                "eventTime": "2026-11-30T12:00:00.000Z",
                "s3": {"bucket": {"name": bucket.name}, "object": {"key": "clips/acme-door/a.mp4"}},
            }
        ]
    }
    for _ in range(2):
        bucket.sqs.send_message(QueueUrl=bucket.queue, MessageBody=json.dumps(body))
    before = REGISTRY.get_sample_value("vigia_clip_events_total", {"outcome": "duplicate"}) or 0
    consume(bucket, polls=2)
    assert Clip.objects.count() == 1
    assert REGISTRY.get_sample_value("vigia_clip_events_total", {"outcome": "duplicate"}) == before + 2
    assert bucket.depth(bucket.queue) == 0 and bucket.depth(bucket.dlq) == 0


@pytest.mark.django_db
def test_the_event_of_a_clip_vigia_uploaded_itself_is_skipped(world, video, bucket):
    # An upload is stored in the bucket before its row exists: its own event must not race it.
    clip, created = ingest.clip_ingest(camera=world.cam_a, path=str(video()), recorded_at=datetime.now(UTC))
    assert created and clip.file.name.startswith("clips/acme-door/")
    head = bucket.s3.head_object(Bucket=bucket.name, Key=clip.file.name)
    assert head["Metadata"] == {"vigia-origin": "app"}
    before = REGISTRY.get_sample_value("vigia_clip_events_total", {"outcome": "ignored"}) or 0
    consume(bucket, polls=2)
    assert list(Clip.objects.values_list("id", flat=True)) == [clip.id]
    assert REGISTRY.get_sample_value("vigia_clip_events_total", {"outcome": "ignored"}) == before + 1
    assert bucket.depth(bucket.queue) == 0 and bucket.depth(bucket.dlq) == 0


@pytest.mark.django_db
def test_objects_that_cannot_be_clips_go_to_the_dead_letter_queue_counted_and_logged(
    world, video, bucket, settings, caplog
):
    settings.CLIP_MAX_BYTES = 100_000
    settings.CLIP_MAX_SECONDS = 2.5
    before = {r: rejected(r) for r in ("invalid_video", "file_too_large", "video_too_long", "unknown_camera")}
    bucket.put("clips/acme-door/garbage.mp4", b"this is not a video at all")
    bucket.put("clips/acme-door/notes.txt", b"hello", content_type="text/plain")
    bucket.put("clips/acme-door/big.mp4", b"\0" * 120_000)
    bucket.put("clips/acme-door/long.mp4", video(frames=30, size=(64, 48)))  # 3 s
    bucket.put("clips/nobody-cam/x.mp4", video("n.mp4"))
    with caplog.at_level("WARNING", logger="reviewapp.review.events"):
        consume(bucket)

    assert Clip.objects.count() == 0
    assert bucket.depth(bucket.queue) == 0  # none left to be retried
    letters = bucket.dead_letters() + bucket.dead_letters()
    reasons = sorted(m["MessageAttributes"]["reason"]["StringValue"] for m in letters)
    assert reasons == ["file_too_large", "invalid_video", "invalid_video", "unknown_camera", "video_too_long"]
    assert all("Records" in json.loads(m["Body"]) for m in letters)  # the original event, to redrive
    assert rejected("invalid_video") == before["invalid_video"] + 2
    for reason in ("file_too_large", "video_too_long", "unknown_camera"):
        assert rejected(reason) == before[reason] + 1
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "clips/acme-door/garbage.mp4" in logged and "clips/nobody-cam/x.mp4" in logged
    assert bucket.s3.list_objects_v2(Bucket=bucket.name)["KeyCount"] == 5  # refused objects stay


@pytest.mark.django_db
def test_a_transient_failure_leaves_the_message_and_the_redrive_policy_caps_the_retries(world, video, bucket, settings):
    good = settings.AWS_S3_ENDPOINT_URL
    bucket.put("clips/acme-door/later.mp4", video())
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9"  # nothing listens: S3 is unreachable
    consume(bucket, polls=2)
    assert Clip.objects.count() == 0 and bucket.depth(bucket.queue) == 1  # kept, to try again
    settings.AWS_S3_ENDPOINT_URL = good
    wait_for(lambda: consume(bucket, polls=1) and Clip.objects.count() == 1, "the retry")
    assert bucket.depth(bucket.queue) == 0

    bucket.put("clips/acme-door/never.mp4", video("never.mp4", seed=2))
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9"
    retries = REGISTRY.get_sample_value("vigia_clip_events_total", {"outcome": "retry"}) or 0
    # maxReceiveCount is 3: SQS itself moves it to the dead-letter queue, it is not tried forever.
    wait_for(lambda: consume(bucket, polls=1) is not None and bucket.depth(bucket.dlq) == 1, "the redrive")
    assert bucket.depth(bucket.queue) == 0 and Clip.objects.count() == 1
    assert REGISTRY.get_sample_value("vigia_clip_events_total", {"outcome": "retry"}) == retries + 3


@pytest.mark.django_db
def test_a_message_that_is_not_an_s3_event_goes_to_the_dead_letter_queue(world, bucket):
    bucket.sqs.send_message(QueueUrl=bucket.queue, MessageBody="{not json")
    bucket.sqs.send_message(
        QueueUrl=bucket.queue, MessageBody=json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]})
    )
    consume(bucket, polls=2)
    letters = bucket.dead_letters()
    assert [m["MessageAttributes"]["reason"]["StringValue"] for m in letters] == ["bad_message", "bad_message"]


def test_s3_events_are_parsed_with_their_keys_decoded():
    body = {
        "Records": [
            {
                "eventName": "ObjectCreated:CompleteMultipartUpload",
                "eventTime": "2026-11-30T12:00:00.000Z",
                "s3": {"bucket": {"name": "b"}, "object": {"key": "clips/cam%C3%A9/a+b%2Bc.mp4"}},
            },
            {"eventName": "ObjectRemoved:Delete", "s3": {"bucket": {"name": "b"}, "object": {"key": "x"}}},
        ]
    }
    (event,) = events.parse_message(json.dumps(body))
    assert event.key == "clips/camé/a b+c.mp4" and event.event_time == datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert events.parse_message(json.dumps({"Event": "s3:TestEvent", "Service": "Amazon S3"})) is None
    wrapped = {"Type": "Notification", "Message": json.dumps(body)}  # through SNS
    assert [e.key for e in events.parse_message(json.dumps(wrapped))] == ["clips/camé/a b+c.mp4"]
    with pytest.raises(events.BadMessage):
        events.parse_message("[]")


# ----------------------------------------------- the real consumer process, killed, and a real worker


def start_consumer(log_path: Path, **extra_env) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
        "BROKER_DIR": str(django_settings.BROKER_DIR),
        "LOG_FORMAT": "plain",
        **extra_env,
    }
    out = open(log_path, "ab")  # noqa: SIM115 - the process writes to it; closed with the process
    cmd = [sys.executable, "manage.py", "consume_clip_events", "--wait", "1"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_for(condition, what: str, proc=None, log_path: Path | None = None, limit=90):
    deadline = time.monotonic() + limit
    while not condition():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the consumer died before {what}: {log_path.read_text()[-3000:] if log_path else ''}")
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}: {log_path.read_text()[-3000:] if log_path else ''}")
        time.sleep(0.2)


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_consumer_killed_between_commit_and_delete_makes_exactly_one_clip(world, video, bucket, worker, tmp_path):
    log_path = tmp_path / "consumer.log"
    key = "clips/acme-door/2026/11/30/killed.mp4"
    bucket.drain_test_event()  # the one message in flight is then the clip's
    bucket.put(key, video(frames=30))
    consumer = start_consumer(log_path, **{events.PAUSE_BEFORE_DELETE_ENV: "300"})
    try:
        # Committed and queued, paused before the delete: the point to kill it at.
        wait_for(lambda: "pausing" in log_path.read_text(), "the commit", consumer, log_path)
        assert Clip.objects.filter(file=key).count() == 1
        consumer.send_signal(signal.SIGKILL)
        consumer.wait(timeout=30)
    finally:
        if consumer.poll() is None:
            consumer.kill()
    assert bucket.depth(bucket.queue) == 1  # not deleted: SQS shows it again

    restarted = start_consumer(log_path)
    try:
        wait_for(lambda: "already ingested" in log_path.read_text(), "the redelivery", restarted, log_path)
        wait_for(lambda: bucket.depth(bucket.queue) == 0, "the delete", restarted, log_path)
        clip = Clip.objects.get(file=key)  # exactly one
        wait_for(lambda: Clip.objects.get(id=clip.id).status not in ("queued", "processing"), "the worker")
    finally:
        restarted.terminate()
        assert restarted.wait(timeout=60) == 0  # SIGTERM: finishes the message in hand, exits cleanly
    clip.refresh_from_db()
    assert clip.status == Clip.Status.DONE, clip.error
    assert Clip.objects.filter(external_id=f"s3://{bucket.name}/{key}").count() == 1
    assert bucket.depth(bucket.dlq) == 0

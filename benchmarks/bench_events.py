"""How many clip-bucket events a second one consumer ingests by reference (HEAD, copy to a
temporary file, OpenCV probe, sha256, the row, the task queued, the message deleted), and how
fast it drops redelivered ones, against moto's S3 and SQS over HTTP.

    python benchmarks/bench_events.py [--clips 200] [--frames 60] [--size 640x360] [--concurrency 1]

Uses its own SQLite file and filesystem broker in a temporary folder (or BENCH_DATABASE_URL);
starts and stops its own moto server, which runs in this process and shares its CPU: on AWS
the object store is elsewhere, so these figures are a floor for the consumer's own work.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="bench-events-"))

from moto.server import ThreadedMotoServer

SERVER = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
SERVER.start()
ENDPOINT = "http://{}:{}".format(*SERVER.get_host_and_port())
BUCKET = "vigia-bench-clips"
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "reviewapp.project.settings",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{TMP / 'bench.sqlite3'}"),
        "BROKER_DIR": str(TMP / "broker"),
        "CLIP_BUCKET": BUCKET,
        "AWS_S3_ENDPOINT_URL": ENDPOINT,
        "AWS_SQS_ENDPOINT_URL": ENDPOINT,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "LOG_LEVEL": "ERROR",
    }
)

import boto3
import django

django.setup()

from django.core.management import call_command

from reviewapp.review import events
from reviewapp.review.models import Camera, Clip, Customer
from tests.videos import write_video


def setup_aws() -> tuple[str, object]:
    kw = {"endpoint_url": ENDPOINT, "region_name": "us-east-1"}
    s3, sqs = boto3.client("s3", **kw), boto3.client("sqs", **kw)
    s3.create_bucket(Bucket=BUCKET)
    dlq = sqs.create_queue(QueueName="bench-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})
    queue = sqs.create_queue(QueueName="bench-events", Attributes={"RedrivePolicy": redrive})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=BUCKET,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    return queue, (s3, sqs)


def run(queue: str, expected: int, concurrency: int) -> float:
    """Seconds for one consumer to handle `expected` messages."""
    start, handled = time.perf_counter(), 0
    while handled < expected:
        handled += events.consume(
            queue_url=queue, stop=threading.Event(), wait_seconds=1, batches=1, concurrency=concurrency
        )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--frames", type=int, default=60, help="frames per clip, at 10 fps")
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--concurrency", type=int, default=1, help="messages handled at once (threads)")
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    call_command("migrate", verbosity=0)
    camera = Camera.objects.create(customer=Customer.objects.create(name="Bench"), name="bench-cam")
    queue, (s3, sqs) = setup_aws()
    events.consume(queue_url=queue, stop=threading.Event(), wait_seconds=1, batches=1)  # the test event

    sizes, bodies = [], []
    for i in range(args.clips):
        path = write_video(TMP / f"c{i}.mp4", frames=args.frames, size=(w, h), seed=i)
        sizes.append(path.stat().st_size)
        s3.put_object(Bucket=BUCKET, Key=f"clips/{camera.name}/2026/12/01/c{i}.mp4", Body=path.read_bytes())
        path.unlink()
    fresh = run(queue, args.clips, args.concurrency)
    assert Clip.objects.count() == args.clips, Clip.objects.count()
    for clip in Clip.objects.all():  # the same events again: SQS redelivers
        body = {
            "Records": [
                {
                    "eventName": "ObjectCreated:Put",
                    "s3": {"bucket": {"name": BUCKET}, "object": {"key": clip.file.name}},
                }
            ]
        }
        bodies.append(json.dumps(body))
    for i in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=queue, Entries=[{"Id": str(j), "MessageBody": b} for j, b in enumerate(bodies[i : i + 10])]
        )
    again = run(queue, len(bodies), args.concurrency)
    assert Clip.objects.count() == args.clips

    mb = statistics.mean(sizes) / 1e6
    print(
        f"{args.clips} objects of {mb:.2f} MB ({args.frames} frames {w}x{h}), one consumer"
        f" handling {args.concurrency} at once, moto over HTTP:"
    )
    print(f"  new objects:  {args.clips / fresh:6.1f} events/s  ({1000 * fresh / args.clips:.1f} ms each)")
    print(f"  redelivered:  {len(bodies) / again:6.1f} events/s  ({1000 * again / len(bodies):.1f} ms each)")
    SERVER.stop()


if __name__ == "__main__":
    main()

"""How fast reviews reach DynamoDB (moto's server over HTTP) and a real Label Studio, batched
against one by one, and the delay from a decision to its arrival with the beat interval.

    python benchmarks/bench_sync.py [--reviews 10000] [--one-by-one 1000] [--ls-reviews 2000]

Uses its own SQLite file in a temporary folder; starts and stops its own servers.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="bench-sync-"))
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "reviewapp.project.settings",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{TMP / 'bench.sqlite3'}"),
        "MEDIA_ROOT": str(TMP / "media"),
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "LOG_LEVEL": "WARNING",
    }
)

import django

django.setup()

from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from labeling.models import SyncState
from labeling.sync import (
    discovery,
    dynamo,
    senders,
    state,
)
from labeling.sync import engine as sync
from labeling.sync import label_studio as ls
from reviewapp.review.models import Camera, Clip, Customer, Detection, Review, ReviewItem, Tag
from reviewapp.review.queue import review_record
from tests.factories import make_user
from tests.labeling.servers import LS_TOKEN, label_studio_server

D = SyncState.Destination


def make_reviews(n: int, camera, reviewer) -> None:
    """n processed clips, each in the queue and decided once (bulk inserts: this is set-up)."""
    now = timezone.now()
    clips = [
        Clip(
            id=uuid.uuid4(),
            camera=camera,
            recorded_at=now,
            file=f"clips/bench/{i}.mp4",
            sha256=uuid.uuid4().hex,
            size_bytes=1000,
            duration=60,
            fps=10,
            width=640,
            height=480,
            status=Clip.Status.DONE,
            score=random.uniform(0.35, 0.65),
            alert=True,
            model_version="hog-bench",
            started_at=now,
            finished_at=now,
        )
        for i in range(n)
    ]
    Clip.objects.bulk_create(clips, batch_size=1000)
    Detection.objects.bulk_create(
        [Detection(clip=c, frame_index=3, frame_time=1.5, x1=10, y1=10, x2=200, y2=300, score=c.score) for c in clips],
        batch_size=1000,
    )
    items = ReviewItem.objects.bulk_create(
        [ReviewItem(clip=c, reason="near_threshold", priority=1, state="done") for c in clips], batch_size=1000
    )
    reviews = Review.objects.bulk_create(
        [
            Review(item=it, clip_id=it.clip_id, verdict=random.choice(["person", "no_person"]), reviewer=reviewer)
            for it in items
        ],
        batch_size=1000,
    )
    dog = Tag.objects.get(slug="dog")
    Review.tags.through.objects.bulk_create([Review.tags.through(review=r, tag=dog) for r in reviews], batch_size=1000)


def drain(destination: str, send=None) -> float:
    t0 = time.perf_counter()
    while True:
        discovery.discover(destination)
        token, rows = state.claim(destination, limit=settings.SYNC_BATCH)
        if not rows:
            break
        (send or sync.SENDERS[destination])(rows, token)
    return time.perf_counter() - t0


def done(destination: str) -> int:
    return SyncState.objects.filter(destination=destination, status="done").count()


def delay_run(camera, reviewer, destinations: list[str], *, decisions: int, interval: float) -> list[float]:
    """Beat ticks every `interval` s in a thread; decisions made at random instants; the delay is
    the row's done time minus the review's creation time."""
    stop = threading.Event()

    def beat():
        while not stop.is_set():
            for d in destinations:
                sync.sync_destination(d)
            stop.wait(interval)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    made = []
    for i in range(decisions):
        time.sleep(random.uniform(0.2, interval))
        clip = Clip.objects.create(
            camera=camera,
            recorded_at=timezone.now(),
            file=f"clips/bench/d{i}.mp4",
            sha256=uuid.uuid4().hex,
            size_bytes=1,
            duration=60,
            fps=10,
            width=640,
            height=480,
            status="done",
            score=0.5,
            alert=True,
            model_version="hog-bench",
            started_at=timezone.now(),
            finished_at=timezone.now(),
        )
        item = ReviewItem.objects.create(clip=clip, reason="near_threshold", priority=1)
        made.append(review_record(item=item, reviewer=reviewer, verdict="no_person", tags=["dog"]))
    deadline = time.time() + 6 * interval + 30
    key = {D.DYNAMODB: "clip_id", D.LS_TASK: "item_id", D.LS_ANNOTATION: "id"}
    fk = {D.DYNAMODB: "clip_id", D.LS_TASK: "item_id", D.LS_ANNOTATION: "review_id"}
    while time.time() < deadline:
        rows = {
            d: SyncState.objects.filter(
                destination=d, status="done", **{f"{fk[d]}__in": [getattr(r, key[d]) for r in made]}
            )
            for d in destinations
        }
        if all(q.count() == len(made) for q in rows.values()):
            break
        time.sleep(0.2)
    stop.set()
    thread.join()
    delays = {}
    for d in destinations:
        states = {getattr(s, fk[d]): s.updated_at for s in SyncState.objects.filter(destination=d, status="done")}
        delays[d] = [
            (states[getattr(r, key[d])] - r.created_at).total_seconds() for r in made if getattr(r, key[d]) in states
        ]
    return delays


def vigia_server() -> str:
    """Vigia's WSGI app on a free port in a thread, so Label Studio's webhooks get a real answer."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from django.core.wsgi import get_wsgi_application

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    settings.ALLOWED_HOSTS = ["*"]
    server = make_server("127.0.0.1", 0, get_wsgi_application(), handler_class=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reviews", type=int, default=10000)
    parser.add_argument("--one-by-one", type=int, default=1000, help="reviews for the one-by-one runs")
    parser.add_argument("--ls-reviews", type=int, default=2000, help="reviews for the Label Studio batched run")
    parser.add_argument("--interval", type=float, default=settings.SYNC_INTERVAL_SECONDS)
    parser.add_argument("--decisions", type=int, default=10)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    camera = Camera.objects.create(customer=Customer.objects.create(name="Bench"), name="bench-cam")
    reviewer = make_user("bench-reviewer", "reviewer")
    print(f"{os.cpu_count()} cores; database {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}")

    from moto.server import ThreadedMotoServer

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    moto.start()
    host, port = moto.get_host_and_port()
    settings.AWS_DYNAMODB_ENDPOINT_URL = f"http://{host}:{port}"
    settings.LABEL_STUDIO_URL = ""

    # --- DynamoDB -------------------------------------------------------------------------
    settings.DYNAMODB_TABLE = "bench-batched"
    dynamo.table_create()
    make_reviews(args.reviews, camera, reviewer)
    t = drain(D.DYNAMODB)
    print(
        f"DynamoDB batched (BatchWriteItem x25): {done(D.DYNAMODB)} reviewed clips in {t:.1f} s = {done(D.DYNAMODB) / t:.0f}/s"
    )
    # One by one: the conditional PutItem path (every later change of a clip goes this way).
    SyncState.objects.all().delete()
    Review.objects.all().delete()
    ReviewItem.objects.all().delete()
    Detection.objects.all().delete()
    Clip.objects.all().delete()
    settings.DYNAMODB_TABLE = "bench-one"
    dynamo.table_create()
    make_reviews(args.one_by_one, camera, reviewer)
    t = drain(D.DYNAMODB, send=lambda rows, token: senders.send_dynamodb(rows, token, batched=False))
    print(f"DynamoDB one by one (conditional PutItem): {done(D.DYNAMODB)} in {t:.1f} s = {done(D.DYNAMODB) / t:.0f}/s")

    # --- Label Studio ---------------------------------------------------------------------
    settings.DYNAMODB_TABLE = ""
    with label_studio_server() as (url, started):
        print(f"Label Studio 1.23.2 started in {started:.0f} s")
        settings.LABEL_STUDIO_URL, settings.LABEL_STUDIO_API_KEY = url, LS_TOKEN
        settings.LABEL_STUDIO_WEBHOOK_SECRET = "bench"
        settings.LABEL_STUDIO_PROJECT = "Vigia bench"
        settings.VIGIA_PUBLIC_URL = vigia_server()  # the webhook (its echo of our annotations) goes here
        ls.reset()
        call_command("label_studio_setup", verbosity=0)
        for n, batch in ((args.ls_reviews, senders.LS_IMPORT_BATCH), (min(args.one_by_one, 500), 1)):
            SyncState.objects.all().delete()
            Review.objects.all().delete()
            ReviewItem.objects.all().delete()
            Detection.objects.all().delete()
            Clip.objects.all().delete()
            make_reviews(n, camera, reviewer)
            t = drain(D.LS_TASK, send=lambda rows, token, batch=batch: senders.send_ls_tasks(rows, token, batch=batch))
            label = f"batched ({batch} tasks per import)" if batch > 1 else "one task per request"
            print(f"Label Studio tasks {label}: {done(D.LS_TASK)} in {t:.1f} s = {done(D.LS_TASK) / t:.0f}/s")
        t = drain(D.LS_ANNOTATION)
        print(
            f"Label Studio annotations (one per Vigia review, no bulk endpoint for distinct results): "
            f"{done(D.LS_ANNOTATION)} in {t:.1f} s = {done(D.LS_ANNOTATION) / t:.0f}/s"
        )

        # --- delay from a decision to its arrival ----------------------------------------------
        settings.DYNAMODB_TABLE = "bench-delay"
        dynamo.table_create()
        SyncState.objects.all().delete()
        Review.objects.all().delete()
        ReviewItem.objects.all().delete()
        Detection.objects.all().delete()
        Clip.objects.all().delete()
        # Annotations need their task first: the beat thread runs the three destinations in order.
        delays = delay_run(
            camera, reviewer, [D.DYNAMODB, D.LS_TASK, D.LS_ANNOTATION], decisions=args.decisions, interval=args.interval
        )
    moto.stop()
    for d, values in delays.items():
        if values:
            print(
                f"decision -> {d} with a {args.interval:.0f} s beat: median {statistics.median(values):.1f} s, "
                f"max {max(values):.1f} s over {len(values)} decisions"
            )


if __name__ == "__main__":
    main()

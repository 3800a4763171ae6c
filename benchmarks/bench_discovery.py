"""What one sync tick's discovery costs when most clips are long synced: the DynamoDB anti-join
over N processed clips that all have their SyncState row, plus a few fresh changes (new clips,
new reviews and reports on old clips) that it must find.

    python benchmarks/bench_discovery.py [--clips 100000] [--fresh 200]

Uses its own SQLite file in a temporary folder, or BENCH_DATABASE_URL (PostgreSQL).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="bench-discovery-"))
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "reviewapp.project.settings",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{TMP / 'bench.sqlite3'}"),
        "LOG_LEVEL": "WARNING",
    }
)
import django

django.setup()
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from labeling.models import SyncState
from labeling.sync import discovery
from reviewapp.review.models import Camera, Clip, Customer, FalseAlertReport, Review, ReviewItem
from tests.factories import make_user

D = SyncState.Destination


def clips(n: int, camera, when) -> list[Clip]:
    made = [
        Clip(
            id=uuid.uuid4(),
            camera=camera,
            recorded_at=when,
            file=f"clips/b/{uuid.uuid4()}.mp4",
            sha256=uuid.uuid4().hex,
            size_bytes=1000,
            duration=60,
            fps=10,
            width=640,
            height=480,
            status=Clip.Status.DONE,
            score=0.1,
            alert=False,
            started_at=when,
            finished_at=when,
        )
        for _ in range(n)
    ]
    return Clip.objects.bulk_create(made, batch_size=2000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=100_000)
    parser.add_argument("--fresh", type=int, default=200)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    if connection.vendor == "postgresql":  # a reused benchmark database starts empty
        SyncState.objects.all().delete()
        Clip.objects.all().delete()
    owner = Customer.objects.create(name=f"Bench {uuid.uuid4().hex[:6]}")
    camera = Camera.objects.create(name=f"bench-{uuid.uuid4().hex[:6]}", customer=owner)
    reviewer = make_user(f"r-{uuid.uuid4().hex[:6]}", role="reviewer")
    customer = make_user(f"c-{uuid.uuid4().hex[:6]}", role="customer", customer=owner)
    old = timezone.now() - timedelta(days=3)
    synced = clips(args.clips, camera, old)
    SyncState.objects.bulk_create(
        [
            SyncState(
                destination=D.DYNAMODB,
                object_key=str(c.id),
                clip=c,
                version=old,
                sent_version=old,
                status=SyncState.Status.DONE,
                next_attempt_at=old,
            )
            for c in synced
        ],
        batch_size=2000,
    )
    print(f"{args.clips} processed clips, all synced to DynamoDB ({connection.vendor})")

    times = []
    for round_ in range(3):
        now = timezone.now()
        clips(args.fresh, camera, now)  # new clips
        for c in synced[round_ * 50 : (round_ + 1) * 50]:  # new reviews and reports on old clips
            item, _ = ReviewItem.objects.get_or_create(clip=c, defaults={"reason": "audit_sample", "priority": 2})
            Review.objects.create(item=item, clip=c, verdict="no_person", reviewer=reviewer)
            FalseAlertReport.objects.create(clip=c, reported_by=customer)
        t0 = time.perf_counter()
        found = discovery.discover(D.DYNAMODB)
        times.append(time.perf_counter() - t0)
        print(f"tick {round_ + 1}: discovered {found} (expected {args.fresh + 50}) in {times[-1] * 1000:.0f} ms")
        assert found == args.fresh + 50, found
    t0 = time.perf_counter()
    assert discovery.discover(D.DYNAMODB) == 0
    print(f"a tick with nothing new: {(time.perf_counter() - t0) * 1000:.0f} ms")
    print(f"median discovery with changes: {statistics.median(times) * 1000:.0f} ms")


if __name__ == "__main__":
    main()

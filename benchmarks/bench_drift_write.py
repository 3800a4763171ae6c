"""How long the drift check takes to store its result, one row per camera: Django's bulk_update
(what it did: a CASE expression per field and row) against one upsert (INSERT ... ON CONFLICT
(camera) DO UPDATE, what it does now), both in the same run on the same rows.

    python benchmarks/bench_drift_write.py [--cameras 2000] [--repeat 3]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigia_bench python benchmarks/bench_drift_write.py

With DATABASE_URL the database must exist and is EMPTIED (flush) first.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="bench-drift-"))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{TMP / 'bench.sqlite3'}")
os.environ.update({"DJANGO_SETTINGS_MODULE": "reviewapp.project.settings", "LOG_LEVEL": "WARNING"})

import django

django.setup()

from django.core.management import call_command
from django.utils import timezone

from reviewapp.monitoring.models import CameraDrift
from reviewapp.review.models import Camera, Customer

# What drift_check_all writes.
FIELDS = [
    "checked_at", "window_start", "baseline_start", "baseline_clips", "current_clips", "psi_score", "psi_detections",
    "ks_statistic", "ks_pvalue", "baseline_mean_score", "current_mean_score", "flagged", "flagged_since",
]  # fmt: skip


def rows(cameras, now, k):
    return [
        CameraDrift(
            camera_id=c, checked_at=now, window_start=now - timedelta(hours=24), baseline_start=now - timedelta(days=8),
            current_clips=k + i, psi_score=0.01 * (i % 50), flagged=i % 10 == 0, flagged_since=now if i % 10 == 0 else None,
        )
        for i, c in enumerate(cameras)
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    customer = Customer.objects.create(name="bench")
    cams = Camera.objects.bulk_create([Camera(customer=customer, name=f"cam-{i}") for i in range(args.cameras)])
    ids = [c.id for c in cams]
    now = timezone.now()
    CameraDrift.objects.bulk_create(rows(ids, now, 0))
    old, new = [], []
    for k in range(1, args.repeat + 1):
        existing = {d.camera_id: d for d in CameraDrift.objects.all()}
        changed = [
            CameraDrift(pk=existing[r.camera_id].pk, **{f: getattr(r, f) for f in ("camera_id", *FIELDS)})
            for r in rows(ids, now, k)
        ]
        started = time.perf_counter()
        CameraDrift.objects.bulk_update(changed, FIELDS, batch_size=500)
        old.append(time.perf_counter() - started)
        started = time.perf_counter()
        CameraDrift.objects.bulk_create(
            rows(ids, now, 100 + k),
            batch_size=500,
            update_conflicts=True,
            unique_fields=["camera"],
            update_fields=FIELDS,
        )
        new.append(time.perf_counter() - started)
    assert CameraDrift.objects.count() == args.cameras
    assert CameraDrift.objects.filter(current_clips__gte=100).count() == args.cameras  # the upsert wrote every row
    engine = django.db.connection.vendor
    print(f"{args.cameras} cameras on {engine}, {args.repeat} rounds (median, min..max):")
    for name, t in (("bulk_update (before)", old), ("upsert (now)", new)):
        print(f"  {name:22s} {statistics.median(t) * 1000:8.1f} ms ({min(t) * 1000:.1f}..{max(t) * 1000:.1f})")


if __name__ == "__main__":
    main()

"""How long the monitoring jobs take on a large database: the drift check (beat), a /metrics
scrape with its database gauges (Prometheus, every 15 s), and the error-analysis page's queries.

    python benchmarks/bench_monitoring.py [--clips 100000] [--cameras 50] [--repeat 3]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigia_bench python benchmarks/bench_monitoring.py

Without DATABASE_URL it uses its own SQLite file in a temporary folder. With DATABASE_URL the
database must exist and is EMPTIED (flush) first: point it at a database made for this.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="bench-monitoring-"))
os.environ.setdefault("DATABASE_URL", f"sqlite:///{TMP / 'bench.sqlite3'}")
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "reviewapp.project.settings",
        "MEDIA_ROOT": str(TMP / "media"),
        "LOG_LEVEL": "WARNING",
        "BROKER_DIR": str(TMP / "broker"),
    }
)

import django

django.setup()

from django.core.management import call_command
from django.db import connection
from django.http import QueryDict
from django.utils import timezone

from labeling.models import SyncState
from reviewapp.core import metrics
from reviewapp.monitoring import analysis, charts, drift
from reviewapp.review.models import Camera, Clip, Customer, FalseAlertReport, Review, ReviewItem, Tag
from tests.factories import make_user


def populate(n_clips: int, n_cameras: int, n_customers: int) -> None:
    rng = random.Random(7)
    now = timezone.now()
    customers = Customer.objects.bulk_create([Customer(name=f"customer-{i}") for i in range(n_customers)])
    cameras = Camera.objects.bulk_create(
        [
            Camera(customer=customers[i % n_customers], name=f"cam-{i}", threshold=0.4, width=640, height=480)
            for i in range(n_cameras)
        ]
    )
    reviewers = [make_user(f"reviewer-{i}", "reviewer") for i in range(5)]
    reporter = make_user("reporter", "customer", customers[0])
    tags = list(Tag.objects.all())
    sizes = [(320, 240), (640, 480), (1280, 720), (1920, 1080)]
    drifting = set(range(0, n_cameras, 10))  # one camera in 10 shifts in the last day
    span = 15 * 24 * 3600
    clips = []
    for i in range(n_clips):
        cam_index = i % n_cameras
        age = rng.random() * span
        recent = age < 24 * 3600
        mean = 0.55 if (cam_index in drifting and recent) else 0.3
        score = min(max(rng.gauss(mean, 0.12), 0.0), 1.0)
        w, h = sizes[cam_index % 4]
        clips.append(
            Clip(
                id=uuid.uuid4(),
                camera=cameras[cam_index],
                recorded_at=now - timedelta(seconds=age),
                file=f"clips/bench/{i}.mp4",
                sha256=uuid.uuid4().hex,
                size_bytes=1000,
                duration=60,
                fps=10,
                width=w,
                height=h,
                status=Clip.Status.DONE if rng.random() > 0.01 else Clip.Status.FAILED,
                score=score,
                alert=score >= 0.4,
                model_version=rng.choice(["centernet-320", "centernet-384"]),
                started_at=now,
                finished_at=now,
                saturation=rng.choice([3.0, 60.0]),
                brightness=100.0,
                detections_count=rng.choice([0, 1, 1, 2, 3, 5]),
                decode_ms=600,
                detect_ms=1200,
            )
        )
    Clip.objects.bulk_create(clips, batch_size=2000)
    reviewed = [c for c in clips if c.status == Clip.Status.DONE and rng.random() < 0.2]
    items = ReviewItem.objects.bulk_create(
        [
            ReviewItem(clip=c, reason="near_threshold", priority=1, state="done", distance=abs(c.score - 0.4))
            for c in reviewed
        ],
        batch_size=2000,
    )
    reviews = Review.objects.bulk_create(
        [
            Review(
                item=it, clip_id=it.clip_id, verdict=rng.choice(["person", "no_person"]), reviewer=rng.choice(reviewers)
            )
            for it in items
        ],
        batch_size=2000,
    )
    Review.tags.through.objects.bulk_create(
        [Review.tags.through(review=r, tag=rng.choice(tags)) for r in reviews if r.verdict == "no_person"],
        batch_size=2000,
    )
    reviewed_ids = {c.id for c in reviewed}
    open_clips = [c for c in clips if c.status == Clip.Status.DONE and c.id not in reviewed_ids][: n_clips // 100]
    ReviewItem.objects.bulk_create(
        [ReviewItem(clip=c, reason="near_threshold", priority=1, distance=0.05) for c in open_clips], batch_size=2000
    )
    FalseAlertReport.objects.bulk_create(
        [FalseAlertReport(clip=c, reported_by=reporter) for c in clips[: n_clips // 50] if c.alert], batch_size=2000
    )
    SyncState.objects.bulk_create(
        [
            SyncState(
                destination="dynamodb",
                object_key=str(c.id),
                clip=c,
                version=now,
                next_attempt_at=now,
                status=rng.choice(["done"] * 97 + ["pending", "pending", "failed"]),
            )
            for c in clips
            if c.status == Clip.Status.DONE
        ],
        batch_size=2000,
    )


def timed(fn, repeat: int) -> tuple[float, float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), result


def analysis_page(query: str):
    q = QueryDict(query)
    return analysis.page(analysis.Slice.from_query(q))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=100_000)
    parser.add_argument("--cameras", type=int, default=50)
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="keep the data of a previous run with the same --clips")
    args = parser.parse_args()

    vendor = connection.vendor
    print(f"database: {vendor} ({connection.settings_dict['NAME']})")
    call_command("migrate", verbosity=0)
    if not (args.reuse and Clip.objects.count() == args.clips):
        call_command("flush", interactive=False, verbosity=0)
        from importlib import import_module

        from django.apps import apps

        import_module("reviewapp.migrations.0002_seed_tags").seed(apps, None)
        t0 = time.perf_counter()
        populate(args.clips, args.cameras, args.customers)
        print(f"populated in {time.perf_counter() - t0:.1f} s")
    print(
        f"{Clip.objects.count()} clips, {Review.objects.count()} reviews, {SyncState.objects.count()} sync rows, "
        f"{Camera.objects.count()} cameras"
    )
    if vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")

    rows = []

    def bench(name, fn):
        median, best, result = timed(fn, args.repeat)
        rows.append((name, median, best))
        print(f"  {name:<58} median {median * 1000:8.0f} ms   best {best * 1000:8.0f} ms", flush=True)
        return result

    flagged = bench("drift check, every camera (beat job)", drift.drift_check_all)
    print(f"    -> {flagged} camera(s) flagged of {args.cameras} (one in 10 shifted in the fixture)")
    body = bench("/metrics scrape with database gauges", lambda: metrics.exposition(include_db=True))
    collector_times = {}
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(body.decode()):
        if family.name == "vigia_metrics_collector_seconds":
            collector_times = {s.labels["collector"]: s.value for s in family.samples}
    print(
        "    -> per collector (last scrape): " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in collector_times.items())
    )
    bench("error analysis, all clips: summary + 8 breakdowns", lambda: analysis_page(""))
    since = (timezone.now() - timedelta(days=7)).date().isoformat()
    bench(f"error analysis, since={since}", lambda: analysis_page(f"since={since}"))
    bench("error analysis, one camera", lambda: analysis_page("camera=cam-3"))
    bench("error analysis, tag=dog", lambda: analysis_page("tag=dog"))
    bench(
        "click-through list, false alerts, first page + count",
        lambda: (
            analysis.clips_in_slice(analysis.Slice(outcome="false_alert")).count(),
            list(analysis.clips_in_slice(analysis.Slice(outcome="false_alert")).order_by("-recorded_at")[:50]),
        ),
    )
    _total, sections = analysis_page("")
    bench(
        "charts: render the 8 SVGs",
        lambda: [
            charts.over_time(rows_, urls=["#"] * len(rows_))
            if name == "day"
            else charts.rate_bars(rows_, title=name, urls=["#"] * len(rows_))
            for name, rows_ in sections.items()
        ],
    )
    print(
        f"\n{vendor}, {args.clips} clips, median of {args.repeat} runs; the machine is shared (2 cores), expect ±30%."
    )


if __name__ == "__main__":
    main()

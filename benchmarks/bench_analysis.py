"""The error-analysis page at scale (#13): from the rollups, against the old scan of clips.

    python benchmarks/bench_analysis.py [--clips 1000000] [--cameras 2000] [--requests 10] [--reuse]
    python benchmarks/bench_analysis.py --clips 10000000 --reuse

PostgreSQL only: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/vigia_rollups_bench,
which must exist; it is EMPTIED first). Seeds 30 days of clips on 2,000 cameras of 50 customers
with bulk SQL (INSERT ... SELECT generate_series), ~5 % of them reviewed (a tenth of those
re-reviewed, the newer review replacing the verdict; "no person" ones tagged), 1 % of the alerts
reported; builds the rollups (`analysis_rollups_rebuild`, timed); then times the page through
Django's test client as a reviewer in São Paulo (UTC-3: the window's ends are partial UTC days):
p50 / p95 over --requests requests, for the 30 days, one customer, one camera and an hour of day.
The scan (today's page before the rollups) only up to --scan-max clips (default 1 M): it is slow.
At the end the scan's numbers and the rollups' are compared (they must be identical).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vigia_rollups_bench")
os.environ.update({"DJANGO_SETTINGS_MODULE": "reviewapp.project.settings", "LOG_LEVEL": "WARNING"})

import django

django.setup()

from datetime import UTC, datetime, timedelta

from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import setup_test_environment

from reviewapp.monitoring import analysis, analysis_rollups
from reviewapp.review import rollups
from reviewapp.review.models import Camera, Clip, Customer, Review
from tests.factories import make_user

DAYS = 30
CLIPS_SQL = """
INSERT INTO reviewapp_clip (id, camera_id, recorded_at, file, sha256, size_bytes, duration, fps, width, height,
    created_at, status, error, attempts, score, alert, model_version, started_at, finished_at, saturation,
    brightness, detections_count, verifier_version, preview, detail, second_look)
SELECT md5(i::text)::uuid, %(first_camera)s + i %% %(cameras)s, t, 'clips/bench/' || i || '.mp4', md5(i::text),
    1000, 60, 2, w, h, t, 'done', '', 1, s, s >= 0.5,
    CASE WHEN t < %(rollout)s THEN 'centernet-320' ELSE 'centernet-384' END, t, t,
    CASE WHEN extract(hour FROM t) BETWEEN 9 AND 21 THEN 80 ELSE 4 END, 100, 1, '', '', '', ''
FROM generate_series(0, %(n)s - 1) i,
    LATERAL (SELECT %(start)s::timestamptz + (i::float8 / %(n)s) * make_interval(days => %(days)s) AS t,
                    power(random(), 3) AS s,
                    (ARRAY[320, 640, 1280, 1920])[1 + (i %% %(cameras)s) %% 4] AS w,
                    (ARRAY[240, 480, 720, 1080])[1 + (i %% %(cameras)s) %% 4] AS h) x
"""
REVIEWS_SQL = [
    # ~5 % of the clips (the alerts and the near ones, at random) are reviewed
    """INSERT INTO reviewapp_reviewitem (clip_id, reason, priority, distance, state, created_at, updated_at)
       SELECT id, 'near_threshold', 1, abs(score - 0.5), 'done', recorded_at, recorded_at FROM reviewapp_clip
       WHERE random() < CASE WHEN score BETWEEN 0.3 AND 0.7 THEN 0.35 ELSE 0.015 END""",
    """INSERT INTO reviewapp_review (item_id, clip_id, verdict, note, source, created_at, reviewer_id)
       SELECT id, clip_id, CASE WHEN random() < 0.5 THEN 'person' ELSE 'no_person' END, '', 'vigia',
              created_at + interval '5 minutes', %(reviewer)s FROM reviewapp_reviewitem""",
    # a tenth re-reviewed an hour later: the newer verdict counts
    """INSERT INTO reviewapp_review (item_id, clip_id, verdict, note, source, created_at, reviewer_id)
       SELECT item_id, clip_id, CASE WHEN verdict = 'person' THEN 'no_person' ELSE 'person' END, '', 'label_studio',
              created_at + interval '1 hour', %(reviewer)s FROM reviewapp_review WHERE random() < 0.1""",
    """INSERT INTO reviewapp_review_tags (review_id, tag_id)
       SELECT r.id, (SELECT id FROM reviewapp_tag ORDER BY id OFFSET (r.id %% 5) LIMIT 1)
       FROM reviewapp_review r WHERE r.verdict = 'no_person'""",
    """INSERT INTO reviewapp_falsealertreport (clip_id, reported_by_id, reason, created_at)
       SELECT id, %(reporter)s, '', recorded_at FROM reviewapp_clip WHERE alert AND random() < 0.01""",
]


def seed(n: int, n_cameras: int, start: datetime) -> None:
    call_command("flush", interactive=False, verbosity=0)
    from importlib import import_module

    from django.apps import apps

    import_module("reviewapp.migrations.0002_seed_tags").seed(apps, None)
    customers = Customer.objects.bulk_create([Customer(name=f"customer-{i}") for i in range(50)])
    cameras = Camera.objects.bulk_create(
        [Camera(customer=customers[i % 50], name=f"cam-{i}", threshold=0.5) for i in range(n_cameras)]
    )
    reviewer = make_user("reviewer", "reviewer")
    reviewer.profile.timezone = "America/Sao_Paulo"
    reviewer.profile.save()
    reporter = make_user("reporter", "customer", customers[0])
    params = {
        "first_camera": min(c.id for c in cameras),
        "cameras": n_cameras,
        "n": n,
        "start": start,
        "days": DAYS,
        "rollout": start + timedelta(days=20),
        "reviewer": reviewer.id,
        "reporter": reporter.id,
    }
    with connection.cursor() as cursor:
        t0 = time.perf_counter()
        cursor.execute(CLIPS_SQL, params)
        print(f"  {n} clips seeded in {time.perf_counter() - t0:.0f} s", flush=True)
        for sql in REVIEWS_SQL:
            cursor.execute(sql, params)
        cursor.execute("ANALYZE")


def timed_requests(client: Client, url: str, n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - t0)
        assert response.status_code == 200, (url, response.status_code)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=1_000_000)
    parser.add_argument("--cameras", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--scan-max", type=int, default=1_000_000, help="time the scan only up to this many clips")
    parser.add_argument("--reuse", action="store_true", help="keep the clips of a previous run with the same --clips")
    args = parser.parse_args()
    assert connection.vendor == "postgresql", "PostgreSQL only (bulk SQL)"
    print(f"database: {connection.settings_dict['NAME']}")
    call_command("migrate", verbosity=0)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=DAYS - 1)
    if not (args.reuse and Clip.objects.count() == args.clips):
        seed(args.clips, args.cameras, start)
        t0 = time.perf_counter()
        rows = rollups.rollups_rebuild()
        print(f"  rollups rebuilt in {time.perf_counter() - t0:.0f} s: {rows}", flush=True)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"{Clip.objects.count()} clips, {Review.objects.count()} reviews, {Camera.objects.count()} cameras")

    setup_test_environment()
    client = Client()
    from django.contrib.auth import get_user_model

    client.force_login(get_user_model().objects.get(username="reviewer"))
    # The viewer's 30 days in São Paulo: since the local day 29 days ago, until today included.
    window = f"since={(start - timedelta(days=1)).date()}&until={today.date()}"
    customer = Customer.objects.get(name="customer-7").id
    urls = {
        "30 days, all cameras": f"/analysis/?{window}",
        "30 days, one customer (40 cameras)": f"/analysis/?{window}&customer={customer}",
        "30 days, one camera": f"/analysis/?{window}&camera=cam-7",
        "30 days, 03h of every day (click-through filter)": f"/analysis/?{window}&hour=3",
    }
    for name, url in urls.items():
        p50, p95 = timed_requests(client, url, args.requests)
        print(f"  rollups  {name:<50} p50 {p50 * 1000:7.0f} ms  p95 {p95 * 1000:7.0f} ms", flush=True)
    metrics_recent_clips(args.requests)
    if args.clips <= args.scan_max:
        with mock.patch.object(analysis_rollups, "unanswerable", return_value="(benchmark: the scan)"):
            p50, p95 = timed_requests(client, urls["30 days, all cameras"], max(2, args.requests // 4))
        print(f"  scan     {'30 days, all cameras':<50} p50 {p50 * 1000:7.0f} ms  p95 {p95 * 1000:7.0f} ms", flush=True)
        compare(window)


def metrics_recent_clips(repeat: int) -> None:
    """/metrics' `vigia_clips_recent` (the last METRICS_WINDOW_HOURS of clips by camera group and
    status): summed from the rollups, against counting the clips (what it did before), in turn."""
    from datetime import timedelta as td

    from django.conf import settings
    from django.utils import timezone

    from reviewapp.monitoring import gauges

    since = timezone.now() - td(hours=settings.METRICS_WINDOW_HOURS)
    ways = {"from the rollups": False, "counting the clips (before)": True}
    times: dict[str, list[float]] = {name: [] for name in ways}
    answers = {}
    for _ in range(max(3, repeat)):
        for name, missing in ways.items():
            with mock.patch.object(gauges.rollups, "rollups_missing", return_value=missing):
                t0 = time.perf_counter()
                answers[name] = gauges._recent_clips(since)
                times[name].append(time.perf_counter() - t0)
    for name, values in times.items():
        values.sort()
        print(f"  /metrics vigia_clips_recent {name:<28} p50 {statistics.median(values) * 1000:6.0f} ms  "
              f"max {values[-1] * 1000:6.0f} ms", flush=True)  # fmt: skip
    # Not equal to the clip: the rollups' window starts at the top of its first hour.
    print("  clips counted: " + ", ".join(f"{name} {sum(a.values()):,}" for name, a in answers.items()))


def compare(window: str) -> None:
    import zoneinfo

    from django.http import QueryDict
    from django.utils import timezone

    with timezone.override(zoneinfo.ZoneInfo("America/Sao_Paulo")):
        s = analysis.Slice.from_query(QueryDict(window))
        total, rows, reason = analysis_rollups.page(s)
        scan_total, scan_rows = analysis.page(s)
    same = reason == "" and vars(total) == vars(scan_total)
    same = same and all([vars(r) for r in rows[d]] == [vars(r) for r in scan_rows[d]] for d in rows)
    print(f"  rollups and scan give identical numbers: {same} ({total.clips} clips, {total.false_alerts} false alerts)")


if __name__ == "__main__":
    main()

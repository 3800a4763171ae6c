"""Vigia at 10 M clips (#13 part 2): seeds N clips in PostgreSQL with COPY, with the mix the app
produces, then measures what the issue's targets name, all in one run on one database:

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigia_scale_bench \\
        .venv/bin/python benchmarks/bench_scale.py [--clips 10000000] [--days 30] [--cameras 2000]
        [--reuse] [--repeat 20]

Seeding: the clips (COPY FROM STDIN, 100k rows a batch; the table's secondary indexes dropped
for the load and built again after it), then from them in bulk SQL (INSERT ... SELECT): the
review items (near the threshold, an audit sample, the customers' reports), their reviews (every
item older than 6 hours is decided, a third with a tag), the reports (~6 % of alerts), the alert
outbox (every alert, sent), the kept box of every clip that had one, and the label sync's state
(DynamoDB: every processed clip older than 10 minutes, Label Studio: every item and decision).
Scores: 60 % of clips have no box; the rest beta(1, 4): ~2.5 % alert, ~6.5 % near the
threshold. `--reuse` keeps a database that already holds `--clips` clips.

Measured (p95 over --repeat calls, through Django's test client unless said): bytes per clip
(pg_total_relation_size of every app table / clips), review `next` and decision, ingest (an
upload of a small clip, and by reference `{"camera", "key"}`), the label sync discovery tick
(DynamoDB, Label Studio tasks and annotations), the error-analysis page for 30 days, the alerts
API (a customer's page and a reviewer's), `/metrics`, the drift check. The last line is JSON.

The database named by BENCH_DATABASE_URL is dropped and created again unless --reuse.
"""

import argparse
import io
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="bench-scale-"))
URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vigia_scale_bench")
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "reviewapp.project.settings",
        "DATABASE_URL": URL,
        "MEDIA_ROOT": str(TMP / "media"),
        "BROKER_DIR": str(TMP / "broker"),
        "AUDIT_SAMPLE_RATE": "0",
        "API_THROTTLE_USER": "",
        "LOG_LEVEL": "WARNING",
        "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
    }
)

from moto.server import ThreadedMotoServer

MOTO = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
MOTO.start()
ENDPOINT = "http://{}:{}".format(*MOTO.get_host_and_port())
BUCKET = "vigia-clips"
os.environ.update(
    {"CLIP_BUCKET": BUCKET, "AWS_S3_ENDPOINT_URL": ENDPOINT, "AWS_ACCESS_KEY_ID": "bench",
     "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
)  # fmt: skip

import numpy as np

CUSTOMERS = 50
REVIEWERS = 20
BATCH = 100_000
APP_TABLES = (
    "reviewapp_clip", "reviewapp_reviewitem", "reviewapp_review", "reviewapp_review_tags", "reviewapp_falsealertreport",
    "reviewapp_alertoutbox", "reviewapp_detection", "labeling_syncstate",
)  # fmt: skip


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def recreate_database() -> None:
    import psycopg

    name = urlparse(URL).path.lstrip("/")
    with psycopg.connect(URL.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


# ------------------------------------------------------------------------------------ seeding
def make_world(cameras: int) -> dict:
    """Customers, cameras (threshold 0.5, band 0.15), reviewers, a customer user each, an ingest user."""
    from reviewapp.review.models import Camera, Customer, Tag
    from tests.factories import make_user

    customers = Customer.objects.bulk_create([Customer(name=f"customer-{n}") for n in range(CUSTOMERS)])
    Camera.objects.bulk_create(
        [Camera(customer=customers[n % CUSTOMERS], name=f"cam-{n}", threshold=0.5) for n in range(cameras)],
        batch_size=2000,
    )
    for n in range(REVIEWERS):
        make_user(f"reviewer-{n}", role="reviewer")
    for n, c in enumerate(customers):
        make_user(f"customer-{n}", role="customer", customer=c)
    make_user("ingest", role="ingest")
    if not Tag.objects.exists():
        Tag.objects.create(slug="shadow", name="Shadow")
    return {}


def secondary_indexes(cursor, table: str) -> list[tuple[str, str]]:
    """(name, definition) of the table's indexes that back no constraint (safe to drop and rebuild)."""
    cursor.execute(
        """select i.indexname, i.indexdef from pg_indexes i
           where i.tablename = %s and not exists (
             select 1 from pg_constraint c where c.conindid = (quote_ident(i.indexname))::regclass)""",
        [table],
    )
    return list(cursor.fetchall())


def copy_clips(cursor, args, camera_ids: list[int], now: datetime) -> None:
    rng = np.random.default_rng(13)
    start = now - timedelta(days=args.days)
    step = args.days * 86400 / args.clips
    cams = np.array(camera_ids)
    cols = (
        "id, camera_id, recorded_at, external_id, file, sha256, size_bytes, duration, fps, width, height, created_at, "
        "status, error, attempts, score, alert, alert_sent_at, model_version, frames_sampled, frames_detected, "
        "started_at, finished_at, decode_ms, detect_ms, suppressed_score, verifier_version, saturation, brightness, "
        "detections_count, detail, detail_expired_at, preview, second_look"
    )
    for first in range(0, args.clips, BATCH):
        n = min(BATCH, args.clips - first)
        idx = np.arange(first, first + n)
        has_box = rng.random(n) < 0.4
        scores = np.where(has_box, rng.beta(1, 4, n), 0.0)
        sat = rng.normal(40, 15, n).clip(0, 255)
        boxes = rng.integers(1, 300, n)
        buf = io.StringIO()
        for k in range(n):
            i = int(idx[k])
            rec = start + timedelta(seconds=i * step)
            created = rec + timedelta(seconds=61)
            age = (now - created).total_seconds()
            status = "done"
            if age < 30:
                status = "queued" if age < 15 else "processing"
            elif i % 997 == 0:
                status = "failed"
            done = status == "done"
            cid = uuid.uuid4()
            cam = int(cams[i % len(cams)])
            day = rec.strftime("%Y/%m/%d")
            key = f"clips/cam-{cam}/{day}/{cid}.mp4"
            score = float(scores[k])
            alert = done and score >= 0.5
            fin = created + timedelta(seconds=4)
            by_ref = i % 2 == 0
            row = (
                str(cid), str(cam), rec.isoformat(), f"s3://vigia-clips/{key}" if by_ref else r"\N", key,
                os.urandom(32).hex(), "2400000", "60", "10", "1280", "720", created.isoformat(), status,
                "decode failed" if status == "failed" else "", "1" if status != "queued" else "0",
                f"{score:.4f}" if done else r"\N", ("t" if alert else "f") if done else r"\N",
                (fin + timedelta(seconds=1)).isoformat() if alert else r"\N", "yolo-v8n" if done else "",
                "120" if done else r"\N", "60" if done else r"\N",
                (created + timedelta(seconds=1)).isoformat() if status != "queued" else r"\N",
                fin.isoformat() if done else r"\N", "300" if done else r"\N", "2900" if done else r"\N",
                "0" if done else r"\N", "", f"{sat[k]:.1f}" if done else r"\N", "110.0" if done else r"\N",
                str(int(boxes[k]) if has_box[k] else 0) if done else r"\N",
                f"clips/cam-{cam}/{day}/{cid}.detections.json.gz" if done and has_box[k] else "", r"\N", "", "",
            )  # fmt: skip
            buf.write("\t".join(row))
            buf.write("\n")
        with cursor.copy(f"COPY reviewapp_clip ({cols}) FROM STDIN") as copy:
            copy.write(buf.getvalue())
        if (first // BATCH) % 10 == 0:
            print(f"  clips {first + n:,} ({time.strftime('%H:%M:%S')})", flush=True)


DERIVED = [
    (
        "review items",
        """insert into reviewapp_reviewitem (clip_id, reason, priority, distance, state, created_at, updated_at)
           select c.id,
             case when c.alert and substr(c.sha256, 3, 1) = 'a' then 'customer_report'
                  when abs(c.score - 0.5) <= 0.15 then 'near_threshold' else 'audit_sample' end,
             case when c.alert and substr(c.sha256, 3, 1) = 'a' then 0
                  when abs(c.score - 0.5) <= 0.15 then 1 else 2 end,
             abs(c.score - 0.5),
             case when c.finished_at < %(now)s - interval '6 hours' then 'done' else 'open' end,
             c.finished_at, c.finished_at
           from reviewapp_clip c
           where c.status = 'done' and (abs(c.score - 0.5) <= 0.15 or substr(c.sha256, 1, 2) = '00'
                 or (c.alert and substr(c.sha256, 3, 1) = 'a'))""",
    ),
    (
        "reports",
        """insert into reviewapp_falsealertreport (clip_id, reported_by_id, reason, created_at)
           select c.id, (select p.user_id from reviewapp_profile p join reviewapp_camera cam
                         on cam.customer_id = p.customer_id where cam.id = c.camera_id limit 1),
                  '', c.finished_at + interval '2 minutes'
           from reviewapp_clip c where c.alert and substr(c.sha256, 3, 1) = 'a'""",
    ),
    (
        "reviews",
        """insert into reviewapp_review (item_id, clip_id, verdict, reviewer_id, note, source, created_at)
           select i.id, i.clip_id, case when c.score >= 0.5 and i.reason <> 'customer_report' then 'person'
                  else 'no_person' end,
                  (array(select user_id from reviewapp_profile where role = 'reviewer' order by user_id))[1 + i.id %% 20],
                  '', 'vigia', i.created_at + interval '10 minutes'
           from reviewapp_reviewitem i join reviewapp_clip c on c.id = i.clip_id where i.state = 'done'""",
    ),
    (
        "review tags",
        """insert into reviewapp_review_tags (review_id, tag_id)
           select r.id, (select min(id) from reviewapp_tag) from reviewapp_review r where r.id %% 3 = 0""",
    ),
    (
        "alert outbox",
        """insert into reviewapp_alertoutbox (clip_id, status, attempts, last_error, next_attempt_at, sent_at,
                                              message_id, created_at)
           select id, 'sent', 1, '', finished_at, alert_sent_at, 'm-' || left(sha256, 12), finished_at
           from reviewapp_clip where alert""",
    ),
    (
        "kept boxes",
        """insert into reviewapp_detection (clip_id, frame_index, frame_time, x1, y1, x2, y2, score, label)
           select id, 40, 20.0, 100, 120, 220, 400, score, 'person' from reviewapp_clip
           where status = 'done' and score > 0""",
    ),
    (
        "sync state (DynamoDB)",
        """insert into labeling_syncstate (destination, object_key, clip_id, status, version, sent_version, attempts,
                                           last_error, next_attempt_at, lease, remote_id, updated_at)
           select 'dynamodb', c.id::text, c.id, 'done', v, v, 1, '', v, '', '', v
           from (select c.id, greatest(c.finished_at, coalesce(r.created_at, c.finished_at),
                                       coalesce(f.created_at, c.finished_at)) v
                 from reviewapp_clip c left join reviewapp_review r on r.clip_id = c.id
                 left join reviewapp_falsealertreport f on f.clip_id = c.id
                 where c.status = 'done') c
           where v < %(now)s - interval '10 minutes'""",
    ),
    (
        "sync state (Label Studio tasks)",
        """insert into labeling_syncstate (destination, object_key, item_id, status, version, sent_version, attempts,
                                           last_error, next_attempt_at, lease, remote_id, updated_at)
           select 'ls_task', id::text, id, 'done', created_at, created_at, 1, '', created_at, '', id::text, created_at
           from reviewapp_reviewitem where created_at < %(now)s - interval '10 minutes'""",
    ),
    (
        "sync state (Label Studio annotations)",
        """insert into labeling_syncstate (destination, object_key, review_id, status, version, sent_version,
                                           attempts, last_error, next_attempt_at, lease, remote_id, updated_at)
           select 'ls_annotation', id::text, id, 'done', created_at, created_at, 1, '', created_at, '', id::text,
                  created_at
           from reviewapp_review where created_at < %(now)s - interval '10 minutes'""",
    ),
    (
        "sync cursors",
        """insert into labeling_synccursor (destination, discovered_until)
           select destination, max(version) from labeling_syncstate group by destination""",
    ),
]


def seed(args) -> None:
    from django.core.management import call_command
    from django.db import connection

    from reviewapp.review.models import Camera

    recreate_database()
    connection.close()
    call_command("migrate", verbosity=0)
    make_world(args.cameras)
    camera_ids = list(Camera.objects.order_by("id").values_list("id", flat=True))
    now = datetime.now(UTC)
    started = time.perf_counter()
    with connection.cursor() as c:
        raw = c.cursor if hasattr(c, "cursor") else c
        c.execute("set synchronous_commit = off")
        c.execute("set maintenance_work_mem = '1GB'")
        dropped = {}
        for table in APP_TABLES:
            for name, definition in secondary_indexes(c, table):
                dropped[name] = definition
                c.execute(f'drop index "{name}"')
        print(f"seeding {args.clips:,} clips, {args.days} days, {args.cameras} cameras "
              f"({len(dropped)} secondary indexes dropped for the load)", flush=True)  # fmt: skip
        copy_clips(raw, args, camera_ids, now)
        print(f"  clips copied in {time.perf_counter() - started:.0f} s", flush=True)
        for label, sql in DERIVED:
            t0 = time.perf_counter()
            c.execute(sql, {"now": now})
            print(f"  {label}: {c.rowcount:,} rows in {time.perf_counter() - t0:.0f} s", flush=True)
        t0 = time.perf_counter()
        for definition in dropped.values():
            c.execute(definition)
        print(f"  indexes built again in {time.perf_counter() - t0:.0f} s", flush=True)
        c.execute("vacuum analyze")
    t0 = time.perf_counter()
    call_command("analysis_rollups_rebuild")  # what the services keep as clips are decided
    # Their statistics and visibility map, as autovacuum keeps them: without them the planner
    # took the cells of the last 24 h for a scan of every cell (/metrics' clips: 176 ms at 1 M).
    with connection.cursor() as c:
        c.execute(
            "vacuum analyze reviewapp_analysiscell, reviewapp_analysishour, reviewapp_analysiscameraday, "
            "reviewapp_analysistagcell"
        )
    print(f"  error-analysis rollups built in {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"seeded in {time.perf_counter() - started:.0f} s", flush=True)


# ------------------------------------------------------------------------------------ measuring
def bytes_per_clip(clips: int) -> dict:
    from django.db import connection

    with connection.cursor() as c:
        sizes = {}
        for t in APP_TABLES:
            c.execute("select pg_total_relation_size(%s)", [t])
            sizes[t] = c.fetchone()[0]
    total = sum(sizes.values())
    print(f"database: {total / 2**30:.2f} GiB in the app's tables, {total / clips:,.0f} B a clip")
    for t, n in sizes.items():
        print(f"  {t:28s} {n / 2**20:10,.0f} MiB  {n / clips:7,.0f} B a clip")
    return {"bytes_per_clip": round(total / clips), "db_gib": round(total / 2**30, 2)}


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def summary(name: str, times: list[float], extra: str = "") -> float:
    p95 = pct(times, 0.95) * 1000
    print(f"{name:44s} n={len(times):3d}  p50 {pct(times, 0.5) * 1000:8.1f} ms  p95 {p95:8.1f} ms {extra}", flush=True)
    return round(p95, 1)


def client_for(username: str):
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    client.force_login(get_user_model().objects.get(username=username))
    return client


def api_for(username: str):
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    user = get_user_model().objects.get(username=username)
    client = APIClient(HTTP_HOST="localhost")
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def queries_of(fn) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def check(response, *codes):
    assert response.status_code in (codes or (200,)), (response.status_code, response.content[:300])
    return response


def measure_review(args) -> dict:
    reviewer = api_for("reviewer-0")
    nexts, decisions = [], []
    # The first call of a process loads the views, serializers and the planner's caches: timed
    # apart (with --repeat 20 the p95 is the slowest call, which was that one).
    t0 = time.perf_counter()
    first = check(reviewer.get("/api/v1/review/next/")).json()["id"]
    first_ms = (time.perf_counter() - t0) * 1000
    check(reviewer.post(f"/api/v1/review/{first}/decision/", {"verdict": "no_person"}, format="json"), 201)
    print(f"review next (API), the process's first call: {first_ms:.1f} ms")
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        item = check(reviewer.get("/api/v1/review/next/")).json()["id"]
        nexts.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        check(reviewer.post(f"/api/v1/review/{item}/decision/", {"verdict": "no_person"}, format="json"), 201)
        decisions.append(time.perf_counter() - t0)
    return {"review_next_first_ms": round(first_ms, 1), "review_next_p95_ms": summary("review next (API)", nexts),
            "review_decision_p95_ms": summary("review decision (API)", decisions)}  # fmt: skip


def measure_ingest(args) -> dict:
    import boto3

    from reviewapp.review.demo import photo, write_clip

    path = write_clip(TMP / "small.mp4", photo("astronaut"), seconds=1, fps=4)
    body = path.read_bytes()
    s3 = boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    ingest = api_for("ingest")
    uploads, refs = [], []
    for n in range(args.repeat):
        with path.open("rb") as f:  # the same bytes for another camera each time: a new clip
            t0 = time.perf_counter()
            r = ingest.post("/api/v1/clips/", {"camera": f"cam-{n}", "recorded_at": datetime.now(UTC).isoformat(),
                                               "file": f}, format="multipart")  # fmt: skip
            uploads.append(time.perf_counter() - t0)
        check(r, 201, 202)
        key = f"clips/cam-{n + args.repeat}/bench/{uuid.uuid4()}.mp4"
        s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="video/mp4")
        t0 = time.perf_counter()
        r = ingest.post("/api/v1/clips/", {"camera": f"cam-{n + args.repeat}", "key": key}, format="json")
        refs.append(time.perf_counter() - t0)
        check(r, 201, 202)
    return {"ingest_upload_p95_ms": summary("ingest: upload of a 1 s clip (API)", uploads),
            "ingest_reference_p95_ms": summary("ingest: by reference {camera, key} (API)", refs)}  # fmt: skip


def fresh_changes(n: int) -> None:
    """n clips processed now (and reviews happen in measure_review): what a tick must find."""
    from django.db import connection

    now = datetime.now(UTC)
    with connection.cursor() as c:
        c.execute(
            """insert into reviewapp_clip (id, camera_id, recorded_at, file, sha256, size_bytes, duration, fps, width,
                 height, created_at, status, error, attempts, score, alert, model_version, started_at, finished_at,
                 suppressed_score, verifier_version, detections_count, detail, preview, second_look)
               select gen_random_uuid(), (select min(id) from reviewapp_camera), %(now)s, 'clips/x/' || g, md5(g::text
                 || clock_timestamp()::text), 1000, 60, 10, 1280, 720, %(now)s, 'done', '', 1, 0.1, false, 'm',
                 %(now)s, %(now)s, 0, '', 0, '', '', ''
               from generate_series(1, %(n)s) g""",
            {"now": now, "n": n},
        )


def measure_discovery(args) -> dict:
    from labeling.sync import discovery
    from labeling.sync.state import D

    out = {}
    for dest in (D.DYNAMODB, D.LS_TASK, D.LS_ANNOTATION):
        times, found = [], []
        for _ in range(3):
            fresh_changes(100)
            t0 = time.perf_counter()
            found.append(discovery.discover(dest))
            times.append(time.perf_counter() - t0)
        out[f"discovery_{dest}_max_ms"] = round(max(times) * 1000, 1)
        summary(f"sync discovery tick: {dest}", times, f"(found {found}; max {max(times) * 1000:.0f} ms)")
    return out


def measure_pages(args) -> dict:
    from datetime import date

    out = {}
    customer_api, customer = api_for("customer-0"), client_for("customer-0")
    reviewer_api = api_for("reviewer-1")
    n = max(3, args.repeat // 2)
    out["alerts_api_customer_p95_ms"] = summary(
        "GET /api/v1/alerts/ (a customer, page 1)", timed(lambda: check(customer_api.get("/api/v1/alerts/")), n)
    )
    out["alerts_api_customer_deep_p95_ms"] = summary(
        "GET /api/v1/alerts/?offset=2000 (a customer)",
        timed(lambda: check(customer_api.get("/api/v1/alerts/?offset=2000")), n),
    )
    # At 1 M clips a customer has ~500 alerts: ?offset=2000 is past the end there. The deepest
    # full page is the one that reads every row before it.
    total = check(customer_api.get("/api/v1/alerts/?limit=1")).json()["count"]
    last = max(0, total - 50)
    out["alerts_api_customer_count"] = total
    out["alerts_api_customer_last_page_p95_ms"] = summary(
        f"GET /api/v1/alerts/?offset={last} (the last page of {total})",
        timed(lambda: check(customer_api.get(f"/api/v1/alerts/?offset={last}")), n),
    )
    last_page = max(1, (total + 49) // 50)
    out["alerts_page_customer_last_p95_ms"] = summary(
        f"GET /alerts/?page={last_page} (a customer's last page)",
        timed(lambda: check(customer.get(f"/alerts/?page={last_page}")), n),
    )
    out.update(compare_alert_pages(customer_api, last, n))
    out["alerts_api_queries"] = queries_of(lambda: customer_api.get("/api/v1/alerts/?limit=200"))
    out["alerts_api_queries_limit_10"] = queries_of(lambda: customer_api.get("/api/v1/alerts/?limit=10"))
    print(
        f"  queries a page: limit 200 -> {out['alerts_api_queries']}, limit 10 -> {out['alerts_api_queries_limit_10']}"
    )
    out["alerts_page_customer_p95_ms"] = summary(
        "GET /alerts/ (a customer's page)", timed(lambda: check(customer.get("/alerts/")), n)
    )
    out["alerts_api_reviewer_status"] = reviewer_api.get("/api/v1/alerts/").status_code
    out["clips_api_reviewer_p95_ms"] = summary(
        "GET /api/v1/clips/?status=done (a reviewer)",
        timed(lambda: check(reviewer_api.get("/api/v1/clips/?status=done")), n),
    )
    from django.db.models import Count

    from labeling.models import SyncState

    before = timed(
        lambda: list(SyncState.objects.values("destination", "status").annotate(n=Count("id")).order_by()), 3
    )
    out["metrics_sync_group_by_before_ms"] = summary("the sync gauge's GROUP BY over every row (before)", before)
    staff = client_for("staff")
    out["metrics_p95_ms"] = summary("GET /metrics (staff)", timed(lambda: check(staff.get("/metrics")), args.repeat))
    # As Prometheus scrapes it: the bearer token, no session to read.
    from django.test import Client, override_settings

    scraper = Client(HTTP_AUTHORIZATION="Bearer bench-scrape")
    with override_settings(METRICS_TOKEN="bench-scrape"):
        out["metrics_token_p95_ms"] = summary(
            "GET /metrics (a scraper's token)", timed(lambda: check(scraper.get("/metrics")), args.repeat)
        )
    out.update(measure_metrics(args))
    since = (date.today() - timedelta(days=args.days)).isoformat()
    if args.skip_analysis:
        return out
    reviewer = client_for("reviewer-1")
    from django.db import connection

    with connection.cursor() as c:  # minutes at 10 M clips: bounded, and said so
        c.execute(f"set statement_timeout = '{args.analysis_timeout}s'")
    try:
        times = timed(lambda: check(reviewer.get(f"/analysis/?since={since}")), 1)
        out["analysis_30d_ms"] = summary(f"GET /analysis/?since={since} (once)", times)
    except Exception as exc:
        print(f"GET /analysis/: {type(exc).__name__}: {str(exc)[:200]}")
        out["analysis_30d_ms"] = f"> {args.analysis_timeout} s (statement timeout)"
    finally:
        with connection.cursor() as c:
            c.execute("reset statement_timeout")
    return out


def interleaved(ways: dict, repeat: int) -> dict[str, list[float]]:
    """Each way timed in turn, `repeat` rounds (one warm-up each): the machine's load moves both."""
    times = {name: [] for name in ways}
    for fn in ways.values():
        fn()
    for _ in range(repeat):
        for name, fn in ways.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return times


def compare_alert_pages(customer_api, last: int, n: int) -> dict:
    """The alerts API's page 1 and last page, the offset over the clips' rows (the plain
    LimitOffsetPagination, before #13) and over the keys (DeferredJoin), in turn in one run."""
    from reviewapp.core.pagination import CappedLimitOffsetPagination, DeferredJoinLimitOffsetPagination
    from reviewapp.review.api import AlertListView

    def way(pagination, url):
        def get():
            AlertListView.pagination_class = pagination
            check(customer_api.get(url))

        return get

    ways = {}
    for label, url in (("page 1", "/api/v1/alerts/"), (f"offset={last}", f"/api/v1/alerts/?offset={last}")):
        ways[f"{label}, rows (before)"] = way(CappedLimitOffsetPagination, url)
        ways[f"{label}, keys (DeferredJoin)"] = way(DeferredJoinLimitOffsetPagination, url)
    try:
        times = interleaved(ways, max(n, 10))
    finally:
        AlertListView.pagination_class = DeferredJoinLimitOffsetPagination
    out = {}
    for name, t in times.items():
        key = (
            "alerts_api_"
            + name.split(",")[0].replace(" ", "").replace("=", "_")
            + ("_keys" if "keys" in name else "_rows")
        )
        out[f"{key}_p50_ms"] = round(pct(t, 0.5) * 1000, 1)
        out[f"{key}_p95_ms"] = summary(f"  GET /api/v1/alerts/ {name}", t)
    return out


def measure_metrics(args) -> dict:
    """The scrape (`metrics.exposition(include_db=True)`, what /metrics answers staff) and each
    scrape-time collector alone, p50 / p95 over --repeat calls after a warm-up call."""
    from reviewapp.core import metrics

    out = {}
    metrics.exposition(include_db=True)  # warm: imports, the planner's caches
    out["metrics_exposition_p50_ms"] = round(
        pct(timed(lambda: metrics.exposition(include_db=True), args.repeat), 0.5) * 1000, 1
    )
    print(f"metrics.exposition(include_db=True)           p50 {out['metrics_exposition_p50_ms']:8.1f} ms")
    for name, fn in list(metrics._db_collectors.items()):
        times = timed(lambda fn=fn: list(fn()), args.repeat)
        out[f"metrics_{name}_p50_ms"] = round(pct(times, 0.5) * 1000, 1)
        summary(f"  collector {name}", times)
    out.update(compare_metrics_queries(args.repeat))
    return out


def compare_metrics_queries(repeat: int) -> dict:
    """The window's done clips of /metrics before and after #13's change, in turn in one run: 24 h
    of cells, or the cameras' day rows and at most 12 h of cells."""
    from datetime import UTC

    from django.db.models import Sum
    from django.utils import timezone

    from reviewapp.core.metrics import camera_group_expression
    from reviewapp.monitoring import gauges
    from reviewapp.review.rollup_models import AnalysisCell

    since = timezone.now() - timedelta(hours=24)
    hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)

    def cells_before():
        rows = AnalysisCell.objects.filter(hour__gte=hour).values(group=camera_group_expression())
        return {r["group"]: r["n"] for r in rows.annotate(n=Sum("clips")).order_by() if r["n"]}

    assert cells_before() == gauges._done_since(hour), "the done clips differ"
    ways = {
        f"done clips: 24 h of cells (before; window from {hour:%H}:00 UTC)": cells_before,
        "done clips: day rows +/- <= 12 h of cells": lambda: gauges._done_since(hour),
    }
    out = {}
    keys = ("metrics_done_cells_before", "metrics_done_days_after")
    for key, (name, t) in zip(keys, interleaved(ways, repeat).items(), strict=True):
        out[f"{key}_p50_ms"] = round(pct(t, 0.5) * 1000, 1)
        summary(f"  {name}", t)
    return out


def measure_drift(args) -> dict:
    from reviewapp.monitoring import drift

    return {"drift_check_p95_ms": summary("drift check (drift_check_all)", timed(drift.drift_check_all, 3))}


def explain_plans() -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the queries that must stay selective as Clip grows (docs/figures.md)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count, Exists, F, Q
    from django.utils import timezone

    from labeling.sync import discovery
    from labeling.sync.state import D
    from reviewapp.monitoring import drift
    from reviewapp.review import selectors
    from reviewapp.review.models import Clip, Review, ReviewItem

    users = get_user_model().objects
    reviewer, customer = users.get(username="reviewer-0"), users.get(username="customer-0")
    now = timezone.now()
    claimable = Q(state="open") & (Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
    alerts = selectors.alerts_for_customer(user=customer)
    deep = max(0, alerts.count() - 50)
    window = now - timedelta(days=8)
    plans = {
        "review next (the candidates)": ReviewItem.objects.filter(claimable)
        .exclude(skipped_by=reviewer)
        .order_by("priority", "distance", "created_at")
        .values_list("id", flat=True)[:20],
        "sync discovery (DynamoDB)": discovery.unsynced(D.DYNAMODB).values_list("pk", "changed_at")[:5000],
        "sync discovery (Label Studio tasks)": discovery.unsynced(D.LS_TASK).values_list("pk", "changed_at")[:5000],
        "sync discovery (Label Studio annotations)": discovery.unsynced(D.LS_ANNOTATION).values_list(
            "pk", "changed_at"
        )[:5000],
        # What the tasks' discovery ran before its window (the full look, still its first tick).
        "sync discovery (Label Studio tasks), the full look (before #13's window)": ReviewItem.objects.filter(
            clip__status="done"
        )
        .annotate(changed_at=F("created_at"))
        .filter(~Exists(discovery._held(D.LS_TASK, "item", "changed_at")))
        .values_list("pk", "changed_at")[:5000],
        "alerts, page 1 as rows (before the deferred join; the API reads its keys)": alerts[:50],
        # The last page (offset = count - 50): the rows with their verdicts, as before #13's
        # deferred join; then what DeferredJoin reads: the keys, and the page's rows by key.
        "alerts API (the last page, the rows)": alerts.with_verdict()[deep : deep + 50],
        "alerts API (the last page, its keys)": alerts.values_list("pk", flat=True)[deep : deep + 50],
        "alerts API (the last page, its rows by key)": alerts.with_verdict()
        .order_by()
        .filter(pk__in=list(alerts.values_list("pk", flat=True)[deep : deep + 50])),
        "alerts API (its count)": alerts.order_by().values("pk"),
        "/metrics: decisions of the last 24 h per reviewer and verdict": Review.objects.filter(
            created_at__gte=now - timedelta(hours=24)
        )
        .values("reviewer__username", "verdict")
        .annotate(n=Count("id"))
        .order_by(),
        "drift check (the score histograms)": Clip.objects.filter(
            status="done", score__isnull=False, recorded_at__gte=window
        )
        .values("camera_id")
        .order_by(),
    }
    for name, qs in plans.items():
        if name == "alerts API (its count)":
            from django.db import connection

            sql, params = qs.query.sql_with_params()
            with connection.cursor() as c:
                c.execute(f"EXPLAIN (ANALYZE, BUFFERS) SELECT COUNT(*) FROM ({sql}) t", params)
                text = "\n".join(r[0] for r in c.fetchall())
        else:
            text = qs.explain(analyze=True, buffers=True)
        print(f"\n--- {name}\n{text}")
    del drift


def measure(args) -> dict:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)  # an index migration made after the seed
    users = get_user_model().objects
    if not users.filter(username="staff").exists():
        users.create_user(username="staff", is_staff=True, is_superuser=True)
    out = {}
    parts = {"review": measure_review, "ingest": measure_ingest, "discovery": measure_discovery}
    parts.update({"pages": measure_pages, "metrics": measure_metrics, "drift": measure_drift})
    for name in args.parts.split(",") if args.parts else parts:
        if name == "metrics" and (not args.parts or "pages" in args.parts):
            continue  # measure_pages measures them after GET /metrics
        out.update(parts[name](args))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--cameras", type=int, default=2000)
    parser.add_argument("--reuse", action="store_true", help="keep the database when it holds --clips clips")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed-only", action="store_true")
    parser.add_argument("--explain", action="store_true", help="print the plans of the selective queries, and stop")
    parser.add_argument("--analysis-timeout", type=int, default=120, help="PostgreSQL statement_timeout, s")
    parser.add_argument("--skip-analysis", action="store_true", help="not the error-analysis page (minutes at 10 M)")
    parser.add_argument(
        "--parts", default="", help="only these, comma-separated: review,ingest,discovery,pages,metrics,drift"
    )
    args = parser.parse_args()
    import django

    django.setup()
    import logging

    for name in ("werkzeug", "reviewapp.review.detail", "django.request"):  # moto's access log, seeded detail names
        logging.getLogger(name).setLevel(logging.CRITICAL)
    from reviewapp.review.models import Clip

    existing = None
    if args.reuse:
        try:
            existing = Clip.objects.count()
        except Exception:
            existing = None
    if args.reuse and existing:
        # A measured database holds a few more clips than seeded (uploads, fresh changes): reuse
        # it; never drop one that --reuse was asked to keep.
        if existing < args.clips:
            raise SystemExit(f"--reuse: the database holds {existing:,} clips, fewer than --clips {args.clips:,}")
    else:
        seed(args)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    figures = {"clips": args.clips, **bytes_per_clip(args.clips)}
    if args.explain:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        explain_plans()
        return
    if args.seed_only:
        print(json.dumps(figures))
        return
    figures.update(measure(args))
    figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

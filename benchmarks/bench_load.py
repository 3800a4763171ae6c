"""Load on the real stack, loopback only: gunicorn + Redis (our own redis-server) + PostgreSQL +
one real Celery worker (concurrency 1). N uploads from C clients while R reviewers claim and
decide; prints upload and review (next / decision) p50 / p95, the answers by status, items
claimed by two reviewers (must be 0) and clips per minute per worker core.

    .venv/bin/python benchmarks/bench_load.py [--uploads 120] [--clients 8] [--reviewers 4]
        [--database postgres://postgres@127.0.0.1:5432/vigia_i12l] [--web-workers 3]

The database is dropped and created again. Every clip goes to the review queue
(AUDIT_SAMPLE_RATE=1) so the reviewers have work; the API throttle is off (it would answer 429).
"""

import argparse
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def recreate_database(url: str) -> None:
    import psycopg

    name = urlparse(url).path.lstrip("/")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def make_world(clients: int, reviewers: int) -> dict:
    """Cameras (one per client), an ingest token, reviewer tokens."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from reviewapp.review.models import Camera, Customer, Profile

    def make_user(name: str, role: str):
        user = get_user_model().objects.create_user(username=name, password=None)
        Profile.objects.create(user=user, role=role)
        Token.objects.create(user=user)
        return user

    customer = Customer.objects.create(name="Acme")
    cameras = [Camera.objects.create(customer=customer, name=f"cam-{n}", threshold=0.5) for n in range(clients)]
    ingest = make_user("ingest", "ingest")
    team = [make_user(f"reviewer-{n}", "reviewer") for n in range(reviewers)]
    return {
        "cameras": [c.name for c in cameras],
        "ingest": ingest.auth_token.key,
        "reviewers": [u.auth_token.key for u in team],
    }


def make_videos(folder: Path, count: int) -> list[Path]:
    """`count` short clips, each of other bytes (another photo, length or frame rate)."""
    from reviewapp.review.demo import photo, write_clip

    photos = [photo(name) for name in ("astronaut", "chelsea", "coffee")]
    out = []
    for n in range(count):
        image = photos[n % 3]
        out.append(write_clip(folder / f"clip-{n}.mp4", image, seconds=1 + (n // 3) % 5 * 0.5, fps=4 + n // 15))
    return out


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.times = defaultdict(list)
        self.statuses = Counter()
        self.claims = defaultdict(set)  # item id -> reviewers who were given it

    def record(self, kind: str, started: float, status: int) -> None:
        with self.lock:
            self.times[kind].append(time.monotonic() - started)
            self.statuses[(kind, status)] += 1


def uploader(base: str, token: str, camera: str, videos: list[Path], rec: Recorder) -> None:
    import httpx

    with httpx.Client(base_url=base, headers={"Authorization": f"Token {token}"}, timeout=60) as http:
        for path in videos:
            started = time.monotonic()
            try:
                response = http.post(
                    "/api/v1/clips/",
                    data={"camera": camera, "recorded_at": datetime.now(UTC).isoformat()},
                    files={"file": (path.name, path.read_bytes(), "video/mp4")},
                )
                rec.record("upload", started, response.status_code)
            except httpx.HTTPError:
                rec.record("upload", started, 0)


def reviewer(base: str, token: str, rec: Recorder, stop: threading.Event) -> None:
    import httpx

    with httpx.Client(base_url=base, headers={"Authorization": f"Token {token}"}, timeout=60) as http:
        while not stop.is_set():
            started = time.monotonic()
            response = http.get("/api/v1/review/next/")
            rec.record("next", started, response.status_code)
            if response.status_code != 200:
                time.sleep(0.5)
                continue
            item = response.json()["id"]
            with rec.lock:
                rec.claims[item].add(token)
            started = time.monotonic()
            verdict = "person" if hash(item) % 2 else "no_person"
            response = http.post(f"/api/v1/review/{item}/decision/", json={"verdict": verdict})
            rec.record("decide", started, response.status_code)


def start_stack(args, tmp: Path) -> tuple[list[subprocess.Popen], str, dict]:
    redis_port, web_port = free_port(), free_port()
    env = {
        **os.environ,
        "DATABASE_URL": args.database,
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "CACHE_URL": f"redis://127.0.0.1:{redis_port}/1",
        "MEDIA_ROOT": str(tmp / "media"),
        "AUDIT_SAMPLE_RATE": "1",
        "API_THROTTLE_USER": "",
        "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
    }
    os.environ.update(env)
    redis = subprocess.Popen(
        [
            shutil.which("redis-server"),
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    wait_port(redis_port)
    recreate_database(args.database)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    web = subprocess.Popen(
        [str(BIN / "gunicorn"), "reviewapp.project.wsgi:application", "--bind", f"127.0.0.1:{web_port}",
         "--workers", str(args.web_workers), "--timeout", "120"],
        cwd=ROOT, env=env, **quiet,
    )  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "reviewapp.project", "worker", "-Q", "inference,default",
         "--concurrency", "1", "--prefetch-multiplier", "1", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, **quiet,
    )  # fmt: skip
    wait_port(web_port)
    return [worker, web, redis], f"http://127.0.0.1:{web_port}", env


def run(args, base: str, world: dict, videos: list[Path]) -> tuple[Recorder, float, float]:
    from reviewapp.review.models import Clip

    rec, stop = Recorder(), threading.Event()
    shares = [videos[n :: args.clients] for n in range(args.clients)]
    ups = [
        threading.Thread(target=uploader, args=(base, world["ingest"], world["cameras"][n], shares[n], rec))
        for n in range(args.clients)
    ]
    team = [threading.Thread(target=reviewer, args=(base, t, rec, stop)) for t in world["reviewers"]]
    started = time.monotonic()
    for t in ups + team:
        t.start()
    for t in ups:
        t.join()
    uploaded = time.monotonic() - started
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline and Clip.objects.exclude(status__in=["done", "failed"]).exists():
        time.sleep(1)
    processed = time.monotonic() - started
    from reviewapp.review.models import ReviewItem

    while time.monotonic() < deadline and ReviewItem.objects.filter(reviews__isnull=True).exists():
        time.sleep(1)
    stop.set()
    for t in team:
        t.join()
    return rec, uploaded, processed


def report(rec: Recorder, uploaded: float, processed: float, videos: int) -> None:
    from reviewapp.review.models import Clip, Review

    for kind in ("upload", "next", "decide"):
        t = rec.times[kind]
        print(f"{kind:7s} n={len(t):4d}  p50 {pct(t, 0.5) * 1000:6.0f} ms  p95 {pct(t, 0.95) * 1000:6.0f} ms")
    print("answers by status:", dict(sorted((f"{k} {s}", n) for (k, s), n in rec.statuses.items())))
    errors = {f"{k} {s}": n for (k, s), n in rec.statuses.items() if s >= 400 or s == 0}
    print("errors:", errors or "none")
    print("items claimed by two reviewers:", sum(1 for who in rec.claims.values() if len(who) > 1))
    counts = Counter(Clip.objects.values_list("status", flat=True))
    done = counts.get("done", 0)
    print(f"clips: {dict(counts)} of {videos} uploaded in {uploaded:.1f} s; all processed at {processed:.1f} s")
    print(f"clips/min per worker core (1 process): {done / processed * 60:.1f}")
    print(f"reviews stored: {Review.objects.count()}, decided twice: {duplicate_reviews()}")


def duplicate_reviews() -> int:
    from django.db.models import Count

    from reviewapp.review.models import Review

    return Review.objects.values("item").annotate(n=Count("id")).filter(n__gt=1).count()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=120)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--reviewers", type=int, default=4)
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument("--database", default="postgres://postgres@127.0.0.1:5432/vigia_i12l")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vigia-load-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "reviewapp.project.settings"
    procs, base, _env = start_stack(args, tmp)
    try:
        import django

        django.setup()
        logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
        world = make_world(args.clients, args.reviewers)
        videos = make_videos(tmp, args.uploads)
        rec, uploaded, processed = run(args, base, world, videos)
        report(rec, uploaded, processed, len(videos))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

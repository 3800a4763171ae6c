"""The capacity model (#13): what N cameras, each sending a 1-minute clip every minute, need —
from figures measured on this machine, not guessed.

    .venv/bin/python benchmarks/capacity.py --cameras 1000,5000,20000 [--busy-share 0.25]
        [--clips-per-min-per-core STILL,BUSY] [--db-bytes-per-clip N] [--clip-bytes N]
        [--alert-rate 0.02] [--review-rate 0.05]

Measured here unless given:
- clips/min per core: `benchmarks/bench_pipeline.py` run on one thread (TORCH_THREADS=1,
  OMP_NUM_THREADS=1) on its "walker" scene (a still view a person crosses: most camera minutes)
  and its "pan" scene (every frame moves: the busy worst case); its printed
  "clips per minute per worker" line is read. A worker process is one core (one clip at a time).
- database bytes per clip: two 60 s clips (walker, pan) processed into a throwaway SQLite
  database, the bytes the clip's tables and indexes grew by (SQLite's dbstat: page bytes in use).
  Until benchmarks/bench_db_size.py (the 4 KiB-per-clip work) lands, this is today's schema;
  PostgreSQL's row headers add ~24 bytes a row.
- clip bytes: the bench clip's size (synthetic MP4; a real camera's H.264 minute is what
  `--clip-bytes` should say: the bucket's average object size).
Assumed unless given (no measured fleet rates exist yet): the share of busy clips, the alert
rate and the review rate (near-threshold band plus AUDIT_SAMPLE_RATE). Each is printed as such.
"""

import argparse
import math
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MINUTES_PER_DAY = 24 * 60
# Rows a processed clip writes besides its Detection rows: the clip (insert + the claim + the
# result update), its review item or alert outbox row now and then. Counted from
# reviewapp/review/processing.py; the Detection rows are measured.
CLIP_WRITES = 3


def bench_pipeline(scene: str, seconds: float) -> dict:
    """Run bench_pipeline.py on one thread and read its figures."""
    env = {**os.environ, "TORCH_THREADS": "1", "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, str(ROOT / "benchmarks/bench_pipeline.py"), "--scene", scene, "--seconds", f"{seconds:g}"]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    if proc.returncode != 0:
        raise SystemExit(f"bench_pipeline --scene {scene} failed:\n{proc.stderr[-3000:]}")
    return parse_bench(proc.stdout)


def parse_bench(output: str) -> dict:
    """The figures of bench_pipeline.py's printout this model uses."""
    per_min = re.search(r"clips per minute per worker: ([\d.]+)", output)
    size = re.search(r"clip: .*?, ([\d.]+) MB,", output)
    if not per_min:
        raise SystemExit(f"no 'clips per minute per worker' in bench_pipeline's output:\n{output[-2000:]}")
    return {"clips_per_min": float(per_min.group(1)), "clip_bytes": float(size.group(1)) * 1e6 if size else None}


def db_bytes_per_clip(seconds: float) -> tuple[float, float]:
    """(database bytes, detection rows) per processed clip, measured on a throwaway SQLite database."""
    tmp = Path(tempfile.mkdtemp(prefix="vigia-capacity-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="reviewapp.project.settings",
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        MEDIA_ROOT=str(tmp / "media"),
        BROKER_DIR=str(tmp / "broker"),
        AUDIT_SAMPLE_RATE="0",
        LOG_LEVEL="WARNING",  # the table, not every clip's log line
    )
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from benchmarks.make_eval_set import walker_clip
    from reviewapp.review import demo, ingest, processing
    from reviewapp.review.models import Camera, Customer, Detection

    call_command("migrate", verbosity=0)
    camera = Camera.objects.create(customer=Customer.objects.create(name="Bench"), name="bench-cam")
    paths = [demo.write_clip(tmp / "pan.mp4", demo.photo("astronaut"), seconds=seconds, fps=15)]
    walker = tmp / "walker.mp4"
    walker_clip(walker, demo.photo("coffee"), demo.photo("astronaut"), seconds=seconds, fps=15,
                person_height=360, enter_s=seconds / 3, cross_s=seconds / 3, seed=0)  # fmt: skip
    paths.append(walker)
    clips = [ingest.clip_ingest(camera=camera, path=str(p), recorded_at=timezone.now())[0] for p in paths]
    before = _used_bytes(connection)
    for clip in clips:
        processing.clip_process(clip_id=clip.id)
    grown = _used_bytes(connection) - before
    # The clip rows were inserted before `before`: add them (their share of the clip table).
    clip_row = _used_bytes(connection, table="reviewapp_clip") / len(clips)
    return grown / len(clips) + clip_row, Detection.objects.count() / len(clips)


def _used_bytes(connection, table: str | None = None) -> int:
    """Bytes in use (pages minus their free space) of the reviewapp tables and their indexes."""
    where = "tbl_name = %s" if table else "tbl_name LIKE 'reviewapp_%%'"
    sql = (
        "SELECT COALESCE(SUM(d.pgsize - d.unused), 0) FROM dbstat d JOIN sqlite_master m ON d.name = m.name "
        f"WHERE m.{where}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [table] if table else [])
        return cursor.fetchone()[0]


def model(cameras: int, f: dict) -> dict:
    """One row of the table: what `cameras` cameras need a day, from the figures `f`."""
    clips_per_min = cameras  # a 1-minute clip per camera per minute
    per_core = 1 / ((1 - f["busy_share"]) / f["still_per_min"] + f["busy_share"] / f["busy_per_min"])
    clips_day = clips_per_min * MINUTES_PER_DAY
    rows_per_clip = CLIP_WRITES + f["detections_per_clip"] + f["review_rate"] + f["alert_rate"]
    return {
        "cameras": cameras,
        "clips/s": clips_per_min / 60,
        "worker cores": math.ceil(clips_per_min / per_core),
        "busy-only cores": math.ceil(clips_per_min / f["busy_per_min"]),
        "DB rows/s": clips_per_min / 60 * rows_per_clip,
        "DB GB/day": clips_day * f["db_bytes_per_clip"] / 1e9,
        "storage GB/day": clips_day * f["clip_bytes"] / 1e9,
        "review items/day": clips_day * f["review_rate"],
        "alerts/day": clips_day * f["alert_rate"],
    }


COLUMNS = [
    ("cameras", "{:,}"),
    ("clips/s", "{:,.0f}"),
    ("worker cores", "{:,}"),
    ("busy-only cores", "{:,}"),
    ("DB rows/s", "{:,.0f}"),
    ("DB GB/day", "{:,.1f}"),
    ("storage GB/day", "{:,.0f}"),
    ("review items/day", "{:,.0f}"),
    ("alerts/day", "{:,.0f}"),
]


def print_table(rows: list[dict]) -> None:
    cells = [[fmt.format(r[name]) for name, fmt in COLUMNS] for r in rows]
    widths = [max(len(name), *(len(c[i]) for c in cells)) for i, (name, _) in enumerate(COLUMNS)]
    print("| " + " | ".join(name.rjust(w) for (name, _), w in zip(COLUMNS, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|")
    for c in cells:
        print("| " + " | ".join(v.rjust(w) for v, w in zip(c, widths, strict=True)) + " |")


def figures(args) -> dict:
    """The model's inputs: measured here unless an argument gives them; each printed with its source."""
    f = {"busy_share": args.busy_share, "alert_rate": args.alert_rate, "review_rate": args.review_rate}
    clip_bytes = None
    if args.clips_per_min_per_core:
        f["still_per_min"], f["busy_per_min"] = map(float, args.clips_per_min_per_core.split(","))
        source = "argument"
    else:
        still, busy = bench_pipeline("walker", args.seconds), bench_pipeline("pan", args.seconds)
        f["still_per_min"], f["busy_per_min"] = still["clips_per_min"], busy["clips_per_min"]
        clip_bytes = (still["clip_bytes"] + busy["clip_bytes"]) / 2 if still["clip_bytes"] else None
        source = f"measured: bench_pipeline, {args.seconds:g} s clips, one thread"
    print(f"clips/min per core: still {f['still_per_min']:.1f}, busy {f['busy_per_min']:.1f} ({source})")
    if args.db_bytes_per_clip:
        f["db_bytes_per_clip"], f["detections_per_clip"], source = (
            args.db_bytes_per_clip,
            args.detections_per_clip,
            "argument",
        )
    else:
        f["db_bytes_per_clip"], f["detections_per_clip"] = db_bytes_per_clip(args.seconds)
        source = "measured: a still and a busy 60 s clip through the worker, on SQLite (PostgreSQL: benchmarks/bench_db_size.py)"
    print(
        f"database per clip: {f['db_bytes_per_clip'] / 1024:.1f} KiB, {f['detections_per_clip']:.0f} detection rows ({source})"
    )
    f["clip_bytes"] = args.clip_bytes or clip_bytes or 0
    source = "argument" if args.clip_bytes else "measured: the bench clips (synthetic MP4)"
    print(f"clip object: {f['clip_bytes'] / 1e6:.1f} MB ({source})")
    print(
        f"assumed (arguments): busy share {f['busy_share']:.0%}, alert rate {f['alert_rate']:.1%}, "
        f"review rate {f['review_rate']:.1%} of clips"
    )
    return f


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", default="1000,5000,20000", help="comma-separated camera counts")
    parser.add_argument("--seconds", type=float, default=60, help="clip length measured (a camera's clip)")
    parser.add_argument("--busy-share", type=float, default=0.25, help="share of clips where people move all the time")
    parser.add_argument("--clips-per-min-per-core", help="STILL,BUSY: skip bench_pipeline")
    parser.add_argument("--db-bytes-per-clip", type=float, help="skip the database measurement")
    parser.add_argument(
        "--detections-per-clip", type=float, default=1.0, help="with --db-bytes-per-clip: rows a clip writes"
    )
    parser.add_argument("--clip-bytes", type=float, help="bytes of a 1-minute clip in the bucket")
    parser.add_argument("--alert-rate", type=float, default=0.02, help="share of clips that alert")
    parser.add_argument("--review-rate", type=float, default=0.05, help="share of clips queued for review")
    args = parser.parse_args()
    f = figures(args)
    print_table([model(int(n), f) for n in args.cameras.split(",")])


if __name__ == "__main__":
    main()

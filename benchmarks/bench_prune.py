"""The row retention at scale (#13, reviewapp/review/prune.py): on a database bench_scale.py
seeded (its clips are spread over --days, 30 by default), prune the clips older than
--retention-days (20: about a third of them) and print the plans and the figures:

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigia_prune_bench \\
        .venv/bin/python benchmarks/bench_scale.py --clips 1000000 --seed-only
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigia_prune_bench \\
        .venv/bin/python benchmarks/bench_prune.py [--retention-days 20] [--budget 10] [--batch 500] [--until-done]

Measured: the clips below the horizon and how many of them may go (one count), EXPLAIN
(ANALYZE, BUFFERS) of the sweep's candidate query and of the re-check in a batch, one run of
`clips_prune` within the budget (what the beat task does: clips deleted, batches, seconds, clips
per second), then with --until-done runs until the sweep reaches the horizon, and the plan of
a candidate query over a swept window (kept clips only). The objects' deletes go to S3 (moto,
as bench_scale): DeleteObjects of keys that were never written. It deletes clips: seed again
(or keep a copy of the database) to measure again. The last line is JSON.
"""

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if not os.environ.get("BENCH_DATABASE_URL"):
    raise SystemExit("BENCH_DATABASE_URL: name the database bench_scale.py seeded (it deletes clips from it)")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import bench_scale as scale  # its environment: the database, S3 on moto


def explain(qs_or_sql, params=None) -> str:
    from django.db import connection

    if params is None:
        text = qs_or_sql.explain(analyze=True, buffers=True)
    else:
        with connection.cursor() as c:
            c.execute(f"EXPLAIN (ANALYZE, BUFFERS) {qs_or_sql}", params)
            text = "\n".join(r[0] for r in c.fetchall())
    return "\n".join(line if len(line) < 300 else f"{line[:240]} ...}}'::uuid[]))" for line in text.splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retention-days", type=int, default=20)
    parser.add_argument("--budget", type=float, default=10.0, help="seconds a run (CLIP_PRUNE_BUDGET_SECONDS)")
    parser.add_argument("--batch", type=int, default=500, help="clips a batch (CLIP_PRUNE_BATCH)")
    parser.add_argument("--until-done", action="store_true", help="runs until the sweep reaches the horizon")
    args = parser.parse_args()
    os.environ["CLIP_RETENTION_DAYS"] = str(args.retention_days)
    import django

    django.setup()
    import logging

    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    import boto3
    from django.conf import settings
    from django.core.management import call_command
    from django.db.models import Min

    from reviewapp.review import prune
    from reviewapp.review.models import Clip, PruneCursor
    from reviewapp.review.rollup_models import AnalysisHour

    call_command("migrate", verbosity=0)
    boto3.client("s3", endpoint_url=scale.ENDPOINT, region_name="us-east-1").create_bucket(Bucket=scale.BUCKET)
    PruneCursor.objects.all().delete()  # a sweep from the start
    now = datetime.now(UTC)
    horizon = prune.retention_horizon(now)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; CLIP_RETENTION_DAYS={settings.CLIP_RETENTION_DAYS}")
    figures: dict = {"retention_days": args.retention_days, "horizon": horizon.isoformat()}
    figures["clips"] = Clip.objects.count()
    figures["clips_below_horizon"] = Clip.objects.filter(recorded_at__lt=horizon).count()
    t0 = time.perf_counter()
    figures["prunable"] = prune.prunable(now=now).count()
    figures["prunable_count_s"] = round(time.perf_counter() - t0, 2)
    rollup_clips = sum(AnalysisHour.objects.values_list("clips", flat=True))
    print(json.dumps(figures))

    first = Clip.objects.filter(recorded_at__lt=horizon).aggregate(first=Min("recorded_at"))["first"]
    window = (
        prune.prunable(now=now)
        .filter(recorded_at__gte=first, recorded_at__lt=min(first + prune.WINDOW, horizon))
        .order_by("recorded_at", "id")
        .values_list("recorded_at", "id")[: args.batch]
    )
    print(f"\n--- the sweep's candidate query (the first window)\n{explain(window)}")
    ids = [k[1] for k in window]
    recheck = prune.prunable(now=now).filter(pk__in=ids).values(*prune._FIELDS)
    print(f"\n--- a batch's re-check ({len(ids)} ids)\n{explain(recheck)}")

    t0 = time.perf_counter()
    run = prune.clips_prune(now=now, batch=args.batch, budget=args.budget)
    wall = time.perf_counter() - t0
    figures["run"] = {
        "clips": run.clips, "batches": run.batches, "objects": run.objects, "object_errors": run.object_errors,
        "seconds": round(wall, 2), "clips_per_s": round(run.clips / wall) if wall else None,
        "kept_by_race": run.kept_by_race, "finished": run.finished,
    }  # fmt: skip
    print(f"\none run (budget {args.budget:g} s, batch {args.batch}): {json.dumps(figures['run'])}", flush=True)
    if args.until_done:
        runs, clips, t0 = 1, run.clips, time.perf_counter()
        while not run.finished:
            run = prune.clips_prune(now=now, batch=args.batch, budget=args.budget)
            runs, clips = runs + 1, clips + run.clips
            print(f"  run {runs}: {run.clips} clips in {run.seconds:.1f} s", flush=True)
        total = time.perf_counter() - t0 + figures["run"]["seconds"]
        figures["until_done"] = {
            "runs": runs, "clips": clips, "seconds": round(total, 1), "clips_per_s": round(clips / total),
            "left_below_horizon": Clip.objects.filter(recorded_at__lt=horizon).count(),
            "prunable_left": prune.prunable(now=now).count(),
        }  # fmt: skip
        swept = (
            prune.prunable(now=now)
            .filter(
                recorded_at__gte=first + timedelta(days=1), recorded_at__lt=first + timedelta(days=1) + prune.WINDOW
            )
            .order_by("recorded_at", "id")
            .values_list("recorded_at", "id")[: args.batch]
        )
        print(f"\n--- a swept window (kept clips only)\n{explain(swept)}")
    figures["rollup_clips_unchanged"] = sum(AnalysisHour.objects.values_list("clips", flat=True)) == rollup_clips
    figures["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

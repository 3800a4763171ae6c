"""The drift check at scale (#13): from the rollups (DriftHour) against the scan of clips, in the
same run on the same clips.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigia_drift-rollups_bench \\
        .venv/bin/python benchmarks/bench_drift.py [--clips 1000000] [--days 30] [--cameras 2000]
        [--reuse] [--repeat 5]

Seeds with bench_scale.py's seeding (COPY of the clips with the app's mix, the reviews and the
rest in bulk SQL, then `analysis_rollups_rebuild`, which builds DriftHour too): the database is
dropped and created again unless --reuse finds --clips clips in it. Then times drift_check_all
(every camera: histograms of DRIFT_BASELINE_DAYS + DRIFT_WINDOW_HOURS, PSI, KS, the upsert of
CameraDrift) --repeat times from the rollups and --repeat times scanning the clips (as before
the rollups), in turn, prints p50 / max of each, how many rows each read, and whether the two
stored the same results for every camera. The last line is JSON.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vigia_drift-rollups_bench")

from benchmarks import bench_scale  # after BENCH_DATABASE_URL: it reads it

FIELDS = ("baseline_clips", "current_clips", "psi_score", "psi_detections", "ks_statistic", "ks_pvalue",
          "baseline_mean_score", "current_mean_score", "flagged")  # fmt: skip


def results() -> dict:
    from reviewapp.monitoring.models import CameraDrift

    return {r[0]: r[1:] for r in CameraDrift.objects.values_list("camera_id", *FIELDS)}


def same(a: dict, b: dict) -> bool:
    def close(x, y):
        if isinstance(x, float) and isinstance(y, float):
            return abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y))
        return x == y

    return a.keys() == b.keys() and all(all(map(close, a[k], b[k])) for k in a)


def rows_read(now) -> dict:
    """What each way reads: DriftHour rows against clips, over the check's window."""
    from datetime import timedelta

    from django.conf import settings

    from reviewapp.monitoring import drift
    from reviewapp.review.models import Clip
    from reviewapp.review.rollup_models import DriftHour

    window_start = drift.hour_floor(now - timedelta(hours=settings.DRIFT_WINDOW_HOURS))
    start = window_start - timedelta(days=settings.DRIFT_BASELINE_DAYS)
    return {
        "rollup_rows": DriftHour.objects.filter(hour__gte=start).count(),
        "clips_in_window": Clip.objects.filter(recorded_at__gte=start, status=Clip.Status.DONE).count(),
    }


def measure(repeat: int) -> dict:
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from reviewapp.monitoring import drift

    now = timezone.now()
    window_start = now - timedelta(hours=settings.DRIFT_WINDOW_HOURS)
    window = {"baseline_start": window_start - timedelta(days=settings.DRIFT_BASELINE_DAYS)}
    window |= {"window_start": window_start, "end": now}
    ways = {"rollups": False, "scan": True}
    times: dict[str, list[float]] = {f"{part} {name}": [] for part in ("check", "histograms") for name in ways}
    stored = {}
    for _ in range(repeat):
        for name, missing in ways.items():
            with mock.patch.object(drift.rollups, "rollups_missing", return_value=missing):
                t0 = time.perf_counter()
                flagged = drift.drift_check_all(now=now)
                times[f"check {name}"].append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                drift.histograms(**window)  # the part that reads the database
                times[f"histograms {name}"].append(time.perf_counter() - t0)
            stored[name] = (flagged, results())
    figures = {}
    for key, values in times.items():
        part, name = key.split()
        p50, worst = statistics.median(values) * 1000, max(values) * 1000
        label = f"{'drift_check_all' if part == 'check' else '  of it histograms()'} from the {name}"
        print(f"  {label:<38} p50 {p50:8.0f} ms  max {worst:8.0f} ms  (n={len(values)})")
        figures[f"{part}_{name}_p50_ms"] = round(p50)
        figures[f"{part}_{name}_max_ms"] = round(worst)
    read = rows_read(now)
    print(f"  read: {read['rollup_rows']:,} DriftHour rows against {read['clips_in_window']:,} clips")
    identical = stored["rollups"][0] == stored["scan"][0] and same(stored["rollups"][1], stored["scan"][1])
    print(f"  the same results for all {len(stored['scan'][1]):,} cameras: {identical} "
          f"({stored['scan'][0]} flagged)")  # fmt: skip
    return {**figures, **read, "identical": identical, "flagged": stored["scan"][0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--cameras", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="keep the database when it holds --clips clips")
    args = parser.parse_args()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from reviewapp.review.models import Clip

    print(f"database: {connection.settings_dict['NAME']}")
    try:
        existing = Clip.objects.count()
    except Exception:
        existing = None
    if not (args.reuse and existing == args.clips):
        connection.close()
        bench_scale.seed(args)
    call_command("migrate", verbosity=0)
    print(f"{Clip.objects.count():,} clips, load average {os.getloadavg()[0]:.2f}")
    figures = {"clips": args.clips, **measure(args.repeat)}
    figures["load_average"] = round(os.getloadavg()[0], 2)
    print(json.dumps(figures))
    bench_scale.MOTO.stop()


if __name__ == "__main__":
    main()

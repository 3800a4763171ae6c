"""A labelled set of real-looking consecutive minutes of one still view (tests/scenes.py): still
minutes with the cat, the cut-off cat and the blob (no person), and minutes with a person
crossing, one half hidden at the edge, and a small distant one, for `inference.evaluate`.

    .venv/bin/python benchmarks/make_footage_set.py DIR [--seeds 3] [--still 8]

Writes DIR/*.mp4 and DIR/labels.csv (clip_file, person, camera, recorded_at).
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import scenes

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--still", type=int, default=8, help="still minutes per seed")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in range(args.seeds):
        kinds = [""] * args.still + list(scenes.PEOPLE)
        for m, kind in enumerate(kinds):
            name = f"s{seed}-m{m:02d}-{kind or 'still'}.mp4"
            scenes.write_minute_clip(args.out / name, m, person=kind, seed=seed)
            when = T0 + timedelta(hours=seed, minutes=m)
            rows.append((name, int(bool(kind)), f"lawn-{seed}", when.isoformat()))
    with open(args.out / "labels.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["clip_file", "person", "camera", "recorded_at"])
        writer.writerows(rows)
    print(f"{len(rows)} clips in {args.out}")


if __name__ == "__main__":
    main()

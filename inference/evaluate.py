"""Clip-level evaluation of the detector, processing every clip exactly as the pipeline does.

    python -m inference.evaluate LABELS.csv [--threshold T] [--detector NAME] [--fps F] [--min-change X]

LABELS.csv has at least the columns `clip_file` (a path relative to the CSV) and `person` (1 or 0).
A clip counts as positive when the pipeline would alert (`inference.decision.decide_clip` without
suppression rules or verifier: its best person score >= threshold).
Prints a table, then as its last line one JSON object:
{"clips", "tp", "fp", "fn", "tn", "precision", "recall", "threshold", "detector",
 "seconds_of_video", "wall_seconds", "errors", "per_clip": [{"clip_file", "person", "score", "alert"}]}
(per_clip: every counted row, in the CSV's order; person 1/0, score rounded to 4 digits).
A bad row (missing file, unreadable clip, a `person` that is not 0/1) is reported on stderr with its
row number and left out; the other rows are still counted. Exit status: 0 when at least one clip
was counted, 1 when none could be, 2 when the CSV itself is unusable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from inference.decision import decide_clip
from inference.detector import DetectorUnavailable, load_detector
from inference.labels import Row, add_pipeline_arguments, check_pipeline_arguments, detect_row, read_labels
from inference.thresholds import Counts
from inference.video import InvalidVideo

NOW = datetime.now(UTC)  # decide_clip's `now` only dates rules, and there are none here


def metrics(rows: list[Row]) -> dict:
    c = Counts.of((r.person, r.alert) for r in rows).as_dict(digits=4)
    return {"clips": len(rows), **{k: c[k] for k in ("tp", "fp", "fn", "tn", "precision", "recall")}}


def per_clip(rows: list[Row]) -> list[dict]:
    """What a person needs to decide on each clip: its file, label, score and whether it alerted."""
    return [
        {"clip_file": r.clip_file, "person": int(r.person), "score": round(r.score, 4), "alert": r.alert} for r in rows
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("labels", type=Path)
    add_pipeline_arguments(parser)
    args = parser.parse_args(argv)
    check_pipeline_arguments(parser, args)

    try:
        rows, errors = read_labels(args.labels)
        detector = load_detector(args.detector)
    except (ValueError, DetectorUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    started = time.perf_counter()
    counted: list[Row] = []
    print(f"{'row':>4}  {'person':>6}  {'score':>6}  {'alert':>5}  clip_file")
    for row in rows:
        try:
            # No suppression rules here: no descriptor is needed.
            result = detect_row(
                args.labels.parent, row, detector, fps=args.fps, min_change=args.min_change, describe_boxes=False
            )
        except InvalidVideo as exc:
            errors.append(f"row {row.number} ({row.clip_file}): {exc}")
            continue
        # The worker's decision without rules or verifier: the detector and the threshold alone.
        decision = decide_clip(result.frames, rules=[], threshold=args.threshold, review_band=0.0, now=NOW)
        row.score, row.alert = decision.score, decision.alert
        counted.append(row)
        mark = "" if row.alert == row.person else ("  <- missed person" if row.person else "  <- false alert")
        print(
            f"{row.number:>4}  {int(row.person):>6}  {row.score:6.3f}  {'yes' if row.alert else 'no':>5}  {row.clip_file}{mark}"
        )
    for error in errors:
        print(f"error: {error}", file=sys.stderr)

    summary = metrics(counted)
    summary.update(
        threshold=args.threshold,
        detector=detector.version,
        seconds_of_video=round(sum(r.seconds for r in counted), 2),
        wall_seconds=round(time.perf_counter() - started, 2),
        errors=len(errors),
        per_clip=per_clip(counted),
    )
    print(
        f"\n{summary['clips']} clips, {len(errors)} error(s): tp {summary['tp']} fp {summary['fp']} "
        f"fn {summary['fn']} tn {summary['tn']}, precision {summary['precision']}, recall {summary['recall']}"
    )
    print(json.dumps(summary))
    return 0 if counted else 1


if __name__ == "__main__":
    sys.exit(main())

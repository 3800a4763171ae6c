"""Clip-level evaluation of the detector, processing every clip exactly as the pipeline does.

    python -m inference.evaluate LABELS.csv [--threshold T] [--detector NAME] [--fps F] [--min-change X]

LABELS.csv has at least the columns `clip_file` (a path relative to the CSV) and `person` (1 or 0).
A clip counts as positive when the pipeline would alert (its best person score >= threshold).
Prints a table, then as its last line one JSON object:
{"clips", "tp", "fp", "fn", "tn", "precision", "recall", "threshold", "detector",
 "seconds_of_video", "wall_seconds", "errors"}.
A bad row (missing file, unreadable clip, a `person` that is not 0/1) is reported on stderr with its
row number and left out; the other rows are still counted. Exit status: 0 when at least one clip
was counted, 1 when none could be, 2 when the CSV itself is unusable.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from inference import defaults
from inference.decision import decide
from inference.detector import DetectorUnavailable, load_detector
from inference.pipeline import detect_clip
from inference.video import InvalidVideo, probe

REQUIRED = ("clip_file", "person")


@dataclass
class Row:
    number: int  # line number in the CSV (the header is line 1)
    clip_file: str
    person: bool
    score: float = 0.0
    alert: bool = False
    seconds: float = 0.0


def read_labels(path: Path) -> tuple[list[Row], list[str]]:
    """Rows to evaluate and the errors of rows that cannot be. Raises ValueError if the CSV is unusable."""
    try:
        f = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from exc
    with f:
        reader = csv.DictReader(f)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)} (found: {', '.join(reader.fieldnames or [])})")
        rows, errors = [], []
        for number, record in enumerate(reader, start=2):
            clip_file = (record.get("clip_file") or "").strip()
            person = (record.get("person") or "").strip()
            if not clip_file:
                errors.append(f"row {number}: empty clip_file")
            elif person not in ("0", "1"):
                errors.append(f"row {number} ({clip_file}): person must be 1 or 0, not {person!r}")
            else:
                rows.append(Row(number, clip_file, person == "1"))
    return rows, errors


def metrics(rows: list[Row]) -> dict:
    tp = sum(r.person and r.alert for r in rows)
    fp = sum(not r.person and r.alert for r in rows)
    fn = sum(r.person and not r.alert for r in rows)
    tn = sum(not r.person and not r.alert for r in rows)
    return {
        "clips": len(rows), "tp": tp, "fp": fp, "fn": fn, "tn": tn,
        "precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "recall": round(tp / (tp + fn), 4) if tp + fn else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("labels", type=Path)
    parser.add_argument("--threshold", type=float, default=defaults.env_float("DEFAULT_THRESHOLD", defaults.THRESHOLD))
    parser.add_argument("--detector", default=os.environ.get("DETECTOR") or defaults.DETECTOR)
    parser.add_argument("--fps", type=float, default=defaults.env_float("SAMPLE_FPS", defaults.SAMPLE_FPS))
    parser.add_argument("--min-change", type=float, default=defaults.env_float("MIN_CHANGE", defaults.MIN_CHANGE),
                        help="skip frames where less than this share changed (0: detect every sampled frame)")
    args = parser.parse_args(argv)
    if not 0 <= args.threshold <= 1:
        parser.error("--threshold must be between 0 and 1")
    if args.fps <= 0:
        parser.error("--fps must be positive")

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
        path = args.labels.parent / row.clip_file
        try:
            if not path.is_file():
                raise InvalidVideo("file not found")
            row.seconds = probe(path).duration
            result = detect_clip(
                path, detector, sample_fps=args.fps, batch_size=defaults.DETECT_BATCH,
                min_change=args.min_change, max_still_s=defaults.MAX_STILL_SECONDS,
            )
        except InvalidVideo as exc:
            errors.append(f"row {row.number} ({row.clip_file}): {exc}")
            continue
        decision = decide(result.boxes_per_frame, threshold=args.threshold, review_band=0.0)
        row.score, row.alert = decision.score, decision.alert
        counted.append(row)
        mark = "" if row.alert == row.person else ("  <- missed person" if row.person else "  <- false alert")
        print(f"{row.number:>4}  {int(row.person):>6}  {row.score:6.3f}  {'yes' if row.alert else 'no':>5}  {row.clip_file}{mark}")
    for error in errors:
        print(f"error: {error}", file=sys.stderr)

    summary = metrics(counted)
    summary.update(
        threshold=args.threshold, detector=detector.version,
        seconds_of_video=round(sum(r.seconds for r in counted), 2),
        wall_seconds=round(time.perf_counter() - started, 2), errors=len(errors),
    )
    print(f"\n{summary['clips']} clips, {len(errors)} error(s): tp {summary['tp']} fp {summary['fp']} "
          f"fn {summary['fn']} tn {summary['tn']}, precision {summary['precision']}, recall {summary['recall']}")
    print(json.dumps(summary))
    return 0 if counted else 1


if __name__ == "__main__":
    sys.exit(main())

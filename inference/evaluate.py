"""Clip-level evaluation of the detector, processing every clip exactly as the pipeline does.

    python -m inference.evaluate LABELS.csv [--threshold T] [--detector NAME] [--fps F] [--min-change X]
        [--second-look SPEC] [--review-band B] [--second-frames K]

LABELS.csv has at least the columns `clip_file` (a path relative to the CSV) and `person` (1 or 0).
A clip counts as positive when the pipeline would alert (`inference.decision.decide_clip` without
suppression rules or verifier: its best person score >= threshold).
Prints a table, then as its last line one JSON object:
{"clips", "tp", "fp", "fn", "tn", "precision", "recall", "threshold", "detector",
 "seconds_of_video", "wall_seconds", "errors", "margin", "per_clip": [{"clip_file", "person", "score", "alert"}]}
(per_clip: every counted row, in the CSV's order; person 1/0, score rounded to 4 digits; margin: the
weakest person's score minus the best score without one). With `--second-look SPEC`
(inference.second_look.decide_twice, as the worker's SECOND_LOOK), a clip whose score is within
--review-band of the threshold is decided again by SPEC on its deciding frames (`tiles:N:SPEC`: on
N x N tiles of them); the JSON then also has "second_look", "second_looks",
"margin_second", "detect_seconds", "second_look_seconds", "second_look_cost" (extra detector
time / first-pass detector time), and per clip "first_score" and "second_score" (null: no second look).
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

from inference import defaults, second_look
from inference.detector import DetectorUnavailable, load_detector
from inference.labels import Row, add_pipeline_arguments, check_pipeline_arguments, detect_row, read_labels
from inference.progress import bar, say
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


def margin(rows: list[Row], scores: dict[int, float]) -> float | None:
    """Weakest person's score minus the best score of a clip without one (negative: they overlap)."""
    people = [scores[r.number] for r in rows if r.person]
    others = [scores[r.number] for r in rows if not r.person]
    return round(min(people) - max(others), 4) if people and others else None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inference.evaluate", description=__doc__.split("\n\n")[0])
    parser.add_argument("labels", type=Path)
    add_pipeline_arguments(parser)
    parser.add_argument(
        "--second-look",
        default="",
        metavar="SPEC",
        help=f"a second detector (e.g. {second_look.DEFAULT_SPEC}, or tiles:2:centernet:320:onnxruntime) for clips "
        "whose score is in the review band: the worker's SECOND_LOOK",
    )
    parser.add_argument("--review-band", type=float, default=defaults.REVIEW_BAND, help="the band of --second-look")
    parser.add_argument("--second-frames", type=int, default=second_look.DEFAULT_FRAMES)
    return parser


def _evaluate_row(args, row: Row, detector, second: second_look.SecondLook | None, out: dict) -> None:
    """Detect and decide one row (raises InvalidVideo); its first-pass score (and second-look
    score) and the detector time go to `out`."""
    # No suppression rules here: no descriptor is needed.
    result = detect_row(
        args.labels.parent, row, detector, fps=args.fps, min_change=args.min_change, describe_boxes=False
    )
    # The worker's decision without rules or verifier: the detector and the threshold alone, and
    # with --second-look the worker's second look (inference.second_look.decide_twice).
    decision, look = second_look.decide_twice(
        args.labels.parent / row.clip_file,
        result.frames,
        second=second,
        describe_min_score=2.0,
        rules=[],
        threshold=args.threshold,
        review_band=args.review_band,
        now=NOW,
    )
    out["first"][row.number] = look.first.score if look is not None else decision.score
    out["detect_s"] += result.detect_s
    if look is not None:
        out["second"][row.number] = decision.score
    row.score, row.alert = decision.score, decision.alert


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    check_pipeline_arguments(parser, args)
    try:
        rows, errors = read_labels(args.labels)
        detector = load_detector(args.detector)
        second = (
            second_look.second_look_from_spec(args.second_look, args.second_frames, load_detector)
            if args.second_look
            else None
        )
    except (ValueError, DetectorUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    started = time.perf_counter()
    counted: list[Row] = []
    out: dict = {"first": {}, "second": {}, "detect_s": 0.0}
    print(f"{'row':>4}  {'person':>6}  {'first':>6}  {'second':>6}  {'alert':>5}  clip_file")
    for row in bar(rows, desc="evaluate", unit="clip"):
        try:
            _evaluate_row(args, row, detector, second, out)
        except InvalidVideo as exc:
            errors.append(f"row {row.number} ({row.clip_file}): {exc}")
            continue
        counted.append(row)
        mark = "" if row.alert == row.person else ("  <- missed person" if row.person else "  <- false alert")
        again = out["second"].get(row.number)
        say(
            f"{row.number:>4}  {int(row.person):>6}  {out['first'][row.number]:6.3f}  "
            f"{'-' if again is None else format(again, '6.3f'):>6}  {'yes' if row.alert else 'no':>5}  {row.clip_file}{mark}"
        )
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    summary = _summary(args, counted, errors, detector, second, out, time.perf_counter() - started)
    print(
        f"\n{summary['clips']} clips, {len(errors)} error(s): tp {summary['tp']} fp {summary['fp']} "
        f"fn {summary['fn']} tn {summary['tn']}, precision {summary['precision']}, recall {summary['recall']}"
    )
    if second is not None:
        print(
            f"margin people - others: first pass {summary['margin']}, with the second look {summary['margin_second']}; "
            f"detector {out['detect_s']:.2f} s + second look {second.seconds:.2f} s on {second.looks} clip(s) "
            f"(+{summary['second_look_cost']:.0%})"
        )
    print(json.dumps(summary))
    return 0 if counted else 1


def _summary(args, counted, errors, detector, second, out, wall_s) -> dict:
    summary = metrics(counted)
    summary.update(
        threshold=args.threshold,
        detector=detector.version,
        seconds_of_video=round(sum(r.seconds for r in counted), 2),
        wall_seconds=round(wall_s, 2),
        errors=len(errors),
        margin=margin(counted, out["first"]),
        per_clip=per_clip(counted),
    )
    if second is not None:
        final = {r.number: out["second"].get(r.number, out["first"][r.number]) for r in counted}
        summary.update(
            second_look=second.version,
            second_looks=second.looks,
            margin_second=margin(counted, final),
            detect_seconds=round(out["detect_s"], 3),
            second_look_seconds=round(second.seconds, 3),
            second_look_cost=round(second.seconds / out["detect_s"], 4) if out["detect_s"] else None,
        )
        for c, r in zip(summary["per_clip"], counted):
            c["first_score"] = round(out["first"][r.number], 4)
            c["second_score"] = None if r.number not in out["second"] else round(out["second"][r.number], 4)
    return summary


if __name__ == "__main__":
    sys.exit(main())

"""Replay reviewed clips in time order through the pipeline and every false-alert strategy.

    python -m inference.replay LABELS.csv [--threshold T] [--detector NAME] [--fps F] [--min-change X]
        [--review-band B] [--target-recall R] [--min-reviews N] [--rule-days D] [--temporal-frames K]
        [--verifier-every N] [--verifier-model PATH] [--second-look SPEC] [--second-frames K]

LABELS.csv has at least `clip_file` (relative to the CSV), `person` (1/0), `camera` and
`recorded_at` (ISO 8601). Each clip goes through the detector once (`inference.pipeline.detect_clip`,
as the worker runs it, descriptors included); every strategy is then evaluated on those per-frame
results, clip by clip in time order. A clip counts as reviewed — its label usable — from the next
later time on, so a threshold, rule or verifier used for a clip comes only from clips recorded
before it.

Every strategy is a configuration of the worker's own decision, `inference.decision.decide_clip`:
which rules (learnt so far), which threshold, temporal evidence or not, a verifier or not. Rules
are made as production makes them from a reviewer's "suppress similar"
(`inference.suppression.rules_from_false_detections` from `rule_floor`, the review band below the
threshold), and a box has a descriptor only where the worker would have described it.

With `--second-look SPEC` (default: $SECOND_LOOK) every strategy decides as the worker with that
SECOND_LOOK: a clip whose first-pass score is in the review band of the threshold the strategy
uses is decided again on its deciding frames (inference.second_look.decide_twice; that clip's own
frames only), and the JSON gains "second_look" and "second_looks" ({NAME: clips looked at}).

Strategies (each NAME is a key of the JSON):
  threshold            best person score >= --threshold (the configured default), every camera
  +camera_threshold    per-camera threshold recommended (inference.thresholds) from the reviewed
                       clips of that camera, or of all cameras when the camera has too few, else --threshold
  +suppression         + a false alert creates suppression rules (inference.suppression) from its
                       detections, for that camera, from the next clip on
  +temporal_frames     +suppression, and a person must be in >= K sampled frames
  +temporal_median     +suppression, and a track's running median score must reach the threshold (Frigate)
  +verifier            +suppression, and the verifier must accept one of the boxes that would alert;
                       retrained every N reviewed clips on the reviewed clips so far (or a fixed model)
  threshold+temporal_frames, threshold+verifier
                       each alone on top of `threshold`

Prints one line per clip, a table, whether each addition helps (fewer false alerts than the
strategy it adds to, at equal recall), then as its last line one JSON object
{"strategies": {NAME: {"tp", "fp", "fn", "tn", "recall", "precision"}, ...}, "verdicts", "clips", "errors",
 "rules": {NAME: [{"rule", "made_from", "suppressed": [{"clip", "person", "alert_taken"}]}]}, ...}.
A bad row is reported on stderr with its row number and left out; the others are still counted.
Exit status: 0 when at least one clip was counted, 1 when none could be, 2 when the CSV is unusable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from inference import defaults, second_look, thresholds
from inference.detector import Detector, DetectorUnavailable, load_detector
from inference.labels import Row, add_pipeline_arguments, check_pipeline_arguments, detect_row, read_labels
from inference.progress import bar
from inference.simulation import ClipData, Config, Strategy, crop_hook, describe_floor, simulate, strategies, verdicts
from inference.thresholds import Counts
from inference.video import InvalidVideo

REQUIRED = ("clip_file", "person", "camera", "recorded_at")
DEFAULT_TRACKING_URI = "sqlite:///var/mlflow/mlflow.db"  # the Django setting's default, from the project folder


# ------------------------------------------------------------------------------ command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inference.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("labels", type=Path)
    add_pipeline_arguments(parser)
    parser.add_argument(
        "--review-band",
        type=float,
        default=defaults.env_float("DEFAULT_REVIEW_BAND", defaults.REVIEW_BAND),
        help="the cameras' review band: rules are made from detections down to this far below the threshold",
    )
    parser.add_argument("--target-recall", type=float, default=thresholds.TARGET_RECALL)
    parser.add_argument(
        "--min-reviews",
        type=int,
        default=thresholds.MIN_REVIEWS,
        help="reviewed clips a camera (else all cameras) needs before its threshold is recommended",
    )
    parser.add_argument("--min-positives", type=int, default=thresholds.MIN_POSITIVES)
    parser.add_argument(
        "--rule-days",
        type=float,
        default=defaults.env_float("SUPPRESSION_RULE_DAYS", defaults.SUPPRESSION_RULE_DAYS),
        help="a suppression rule expires after this long (0: never)",
    )
    parser.add_argument("--temporal-frames", type=int, default=2, help="K of +temporal_frames")
    parser.add_argument(
        "--verifier-every", type=int, default=10, help="retrain the verifier after this many new reviews"
    )
    parser.add_argument(
        "--verifier-model",
        default="",
        help="a fixed verifier instead of retraining: a model file or models:/vigia-verifier@production",
    )
    parser.add_argument(
        "--tracking-uri",
        default=os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI,
        help="MLflow store for a models:/ verifier",
    )
    parser.add_argument("--strategies", default="", help="comma-separated names to run (default: all)")
    parser.add_argument(
        "--second-look",
        default=os.environ.get("SECOND_LOOK", ""),
        metavar="SPEC",
        help="the worker's SECOND_LOOK: clips whose score is in the review band are decided again by SPEC",
    )
    parser.add_argument(
        "--second-frames", type=int, default=int(defaults.env_float("SECOND_LOOK_FRAMES", second_look.DEFAULT_FRAMES))
    )
    return parser


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str] | None, Config]:
    """The arguments, the strategies asked for (None: all) and the simulation's configuration."""
    parser = _parser()
    args = parser.parse_args(argv)
    check_pipeline_arguments(parser, args)
    if not 0 < args.target_recall <= 1:
        parser.error("--target-recall must be in (0, 1]")
    if args.verifier_every < 1 or args.temporal_frames < 1:
        parser.error("--verifier-every and --temporal-frames must be at least 1")
    names = [n.strip() for n in args.strategies.split(",") if n.strip()] or None
    known = [s.name for s in strategies()]
    if names and set(names) - set(known):
        parser.error(f"unknown strategy {sorted(set(names) - set(known))}; known: {', '.join(known)}")
    cfg = Config(
        threshold=args.threshold,
        sample_fps=args.fps,
        review_band=args.review_band,
        jitter=defaults.env_float("SUPPRESSION_JITTER", defaults.SUPPRESSION_JITTER),
        target_recall=args.target_recall,
        min_reviews=args.min_reviews,
        min_positives=args.min_positives,
        rule_days=args.rule_days,
        temporal_frames=args.temporal_frames,
        verifier_every=args.verifier_every,
        verifier_model=args.verifier_model,
        tracking_uri=args.tracking_uri,
    )
    return args, names, cfg


def load(args: argparse.Namespace, cfg: Config) -> tuple[list[Row], list[str], Detector]:
    """The rows, the bad rows' errors and the detector; ValueError / DetectorUnavailable when unusable."""
    rows, errors = read_labels(args.labels, required=REQUIRED)
    detector = load_detector(args.detector)
    if args.second_look:  # as the worker builds it (reviewapp.review.processing.clip_second_look)
        cfg.second_look = second_look.second_look_from_spec(args.second_look, args.second_frames, load_detector)
    if cfg.verifier_model:
        from inference.verifier import VerifierUnavailable, load_verifier

        try:  # fail now, not after detecting every clip
            load_verifier(cfg.verifier_model, tracking_uri=cfg.tracking_uri)
        except VerifierUnavailable as exc:
            raise ValueError(str(exc)) from exc
    return rows, errors, detector


def detect_all(
    rows: list[Row], args: argparse.Namespace, detector: Detector, chosen: Sequence[Strategy], cfg: Config, errors
) -> tuple[list[ClipData], dict[str, Row]]:
    """Every row's clip through the pipeline once, in time order (a bad clip is an error, left out)."""
    floor = describe_floor(cfg, chosen)
    need_crops = any(s.verifier for s in chosen)
    clips: list[ClipData] = []
    by_key: dict[str, Row] = {}
    for row in bar(sorted(rows, key=lambda r: (r.recorded_at, r.number)), desc="replay", unit="clip"):
        crops, hook = crop_hook(floor)
        try:
            detected = detect_row(
                args.labels.parent,
                row,
                detector,
                fps=args.fps,
                min_change=args.min_change,
                describe_min_score=floor,
                on_frame=hook if need_crops else None,
            )
        except InvalidVideo as exc:
            errors.append(f"row {row.number} ({row.clip_file}): {exc}")
            continue
        key = f"row{row.number}"
        by_key[key] = row
        path = str(args.labels.parent / row.clip_file)
        clips.append(
            ClipData(key, row.camera, row.recorded_at, row.person, detected.frames, detected.sampled, crops, path)
        )
    return clips, by_key


def main(argv: list[str] | None = None) -> int:
    args, names, cfg = parse_args(argv)
    try:
        rows, errors, detector = load(args, cfg)
    except (ValueError, DetectorUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    chosen = [s for s in strategies() if names is None or s.name in names]
    clips, by_key = detect_all(rows, args, detector, chosen, cfg, errors)
    detect_s = time.perf_counter() - started
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    result = simulate(clips, cfg, names)
    print_clips(result, sorted(clips, key=lambda c: c.recorded_at), by_key)
    summary = {s.name: Counts.of(s.decisions) for s in result}
    print_table(result, summary)
    judged = verdicts(summary, result)
    print_verdicts(judged)
    rules = rule_report(result, by_key)
    print_rules(rules)
    print(
        f"\n{len(clips)} clips, {len(errors)} error(s); detection {detect_s:.1f} s, strategies "
        f"{time.perf_counter() - started - detect_s:.1f} s"
    )
    line = {
        "strategies": {name: c.as_dict(digits=4) for name, c in summary.items()},
        "verdicts": judged,
        "clips": len(clips),
        "errors": len(errors),
        "threshold": args.threshold,
        "detector": detector.version,
        "rules": rules,
    }
    if cfg.second_look is not None:
        line["second_look"] = cfg.second_look.version
        line["second_looks"] = {s.name: len(s.looked) for s in result}
        print(
            f"second look {cfg.second_look.version}: {cfg.second_look.looks} clip(s), {cfg.second_look.seconds:.1f} s"
        )
    print(json.dumps(line))
    return 0 if clips else 1


def print_clips(result: Sequence[Strategy], ordered: Sequence[ClipData], by_key: dict[str, Row]) -> None:
    """One line per clip: per strategy, alert (or "supp" where its rules took the alert away,
    else "-") and the threshold it used."""
    header = "".join(f"{s.name:>18}" for s in result)
    print(f"{'row':>4}  {'camera':<14} {'recorded_at':<20} {'person':>6}{header}")
    taken = {s.name: {k for hits in s.rule_hits.values() for k, _, took in hits if took} for s in result}
    for i, clip in enumerate(ordered):
        row = by_key[clip.key]

        marks = "".join(
            f"{_mark(s, i, clip.key in taken[s.name]) + ' @' + format(s.thresholds_used[i], '.2f'):>18}" for s in result
        )
        print(
            f"{row.number:>4}  {clip.camera:<14} {clip.recorded_at:%Y-%m-%d %H:%M:%S} {int(clip.person):>6}{marks}  {row.clip_file}"
        )


def _mark(s: Strategy, i: int, rules_took_it: bool) -> str:
    return "alert" if s.decisions[i][1] else ("supp" if rules_took_it else "-")


def print_table(result: Sequence[Strategy], summary: dict[str, Counts]) -> None:
    base_fp = summary[result[0].name].fp
    print(
        f"\n{'strategy':<26} {'tp':>4} {'fp':>4} {'fn':>4} {'tn':>4} {'recall':>7} {'precision':>9}  false alerts vs {result[0].name}"
    )

    def fmt(v: float | None) -> str:
        return "-" if v is None else f"{v:.3f}"

    for s in result:
        c = summary[s.name]
        extra = (
            f"  rules {sum(len(r) for r in s.rules.values())}, people lost to a rule {s.people_lost_to_rules}"
            if s.suppression
            else ""
        )
        print(
            f"{s.name:<26} {c.tp:>4} {c.fp:>4} {c.fn:>4} {c.tn:>4} {fmt(c.recall):>7} {fmt(c.precision):>9}"
            f"  {c.fp - base_fp:+d}{extra}"
        )


def rule_report(result: Sequence[Strategy], by_key: dict[str, Row]) -> dict[str, list[dict]]:
    """For each strategy that makes rules: every rule, the clip it was made from, and the clips in
    which it suppressed a box (those where it took the alert away, and the people among them)."""

    def name(key: str) -> str:
        row = by_key.get(key)
        return f"row {row.number} {row.clip_file}" if row is not None else key

    out = {}
    for s in result:
        if not s.suppression:
            continue
        out[s.name] = [
            {
                "rule": rule_id,
                "made_from": name(source),
                "suppressed": [
                    {"clip": name(k), "person": int(person), "alert_taken": took}
                    for k, person, took in s.rule_hits.get(rule_id, [])
                ],
            }
            for rule_id, source in s.rule_sources.items()
        ]
    return out


def print_rules(rules: dict[str, list[dict]]) -> None:
    for strategy, made in rules.items():
        if not made:
            continue
        print(
            f"\nwhat the rules of {strategy} suppressed (made from -> clips where a box was suppressed;"
            " * the rules took that clip's alert away, P a person clip):"
        )
        for r in made:
            hits = [
                f"{h['clip']}{'*' if h['alert_taken'] else ''}{' P' if h['person'] else ''}" for h in r["suppressed"]
            ]
            print(f"  {r['rule']:<12} {r['made_from']} -> {', '.join(hits) or 'nothing'}")


def print_verdicts(judged: dict[str, dict]) -> None:
    if judged:
        print("\ndoes it help (fewer false alerts at equal recall than its base)?")
        for name, v in judged.items():
            print(f"  {name:<26} vs {v['base']:<18} {'yes' if v['helps'] else 'no'}: {v['reason']}")


if __name__ == "__main__":
    sys.exit(main())

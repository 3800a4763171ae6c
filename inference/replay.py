"""Replay reviewed clips in time order through the pipeline and every false-alert strategy.

    python -m inference.replay LABELS.csv [--threshold T] [--detector NAME] [--fps F] [--min-change X]
        [--target-recall R] [--min-reviews N] [--rule-days D] [--temporal-frames K]
        [--verifier-every N] [--verifier-model PATH]

LABELS.csv has at least `clip_file` (relative to the CSV), `person` (1/0), `camera` and
`recorded_at` (ISO 8601). Each clip goes through the detector once (`inference.pipeline.detect_clip`,
as the worker runs it); every strategy is then evaluated on those per-frame results, clip by clip
in time order. A clip counts as reviewed — its label usable — from the next later time on, so a
threshold, rule or verifier used for a clip comes only from clips recorded before it.

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
{"strategies": {NAME: {"tp", "fp", "fn", "tn", "recall", "precision"}, ...}, "verdicts", "clips", "errors", ...}.
A bad row is reported on stderr with its row number and left out; the others are still counted.
Exit status: 0 when at least one clip was counted, 1 when none could be, 2 when the CSV is unusable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from inference import suppression, temporal, thresholds
from inference.detector import PERSON, Box, DetectorUnavailable, load_detector
from inference.labels import Row, add_pipeline_arguments, check_pipeline_arguments, counts, detect_row, read_labels
from inference.video import Frame, InvalidVideo

REQUIRED = ("clip_file", "person", "camera", "recorded_at")
TRACK_MIN_SCORE = 0.1  # Frigate's min_score: a box below it never enters a track
DEFAULT_TRACKING_URI = "sqlite:///var/mlflow/mlflow.db"  # the Django setting's default, from the project folder


# ------------------------------------------------------------------------------ clip data


@dataclass
class BoxData:
    box: Box
    norm_box: tuple[float, float, float, float]
    descriptor: np.ndarray
    crop: np.ndarray | None  # verifier crop; None when no verifier strategy runs


@dataclass
class FrameData:
    time: float
    boxes: list[BoxData]


@dataclass
class ClipData:
    """What the detector found in one clip: all a strategy needs, computed once."""

    key: str  # the clip file, or any unique name
    camera: str
    recorded_at: datetime
    person: bool
    frames: list[FrameData]
    sampled: int | None = None  # sampled frames, detected or left out as still (the pipeline's count)


def collect(crops: bool) -> tuple[list[FrameData], Callable[[Frame, list[Box]], None]]:
    """An on_frame hook for detect_clip that keeps each person box's descriptor (and crop)."""
    frames: list[FrameData] = []

    def on_frame(frame: Frame, boxes: list[Box]) -> None:
        from inference import verifier

        h, w = frame.image.shape[:2]
        kept = []
        for b in boxes:
            if b.label != PERSON:
                continue
            kept.append(
                BoxData(
                    b,
                    suppression.normalise_box(b, (w, h)),
                    suppression.describe(frame.image, b),
                    verifier.crop(frame.image, b) if crops else None,
                )
            )
        frames.append(FrameData(frame.time, kept))

    return frames, on_frame


# ------------------------------------------------------------------------------ strategies


@dataclass
class Config:
    threshold: float
    sample_fps: float
    target_recall: float = thresholds.TARGET_RECALL
    min_reviews: int = thresholds.MIN_REVIEWS
    min_positives: int = thresholds.MIN_POSITIVES
    rule_days: float = 30.0
    temporal_frames: int = 2
    verifier_every: int = 10
    verifier_model: str = ""  # a file or models:/NAME@ALIAS: a fixed verifier instead of retraining
    tracking_uri: str = ""
    verifier_seed: int = 0


@dataclass
class Strategy:
    name: str
    base: str = ""  # the strategy this one adds to: it "helps" only with fewer false alerts at equal recall
    camera_threshold: bool = False
    suppression: bool = False
    temporal: str = ""  # "", "frames" or "median"
    verifier: bool = False
    # state, learnt only from clips already reviewed
    history: list[tuple[str, float, bool]] = field(default_factory=list)  # (camera, effective score, person)
    rules: dict[str, list[suppression.Rule]] = field(default_factory=dict)
    people_lost_to_rules: int = 0  # person clips that would have alerted but for a rule
    decisions: list[tuple[bool, bool]] = field(default_factory=list)  # (person, alert) per clip
    thresholds_used: list[float] = field(default_factory=list)


def strategies() -> list[Strategy]:
    return [
        Strategy("threshold"),
        Strategy("+camera_threshold", "threshold", camera_threshold=True),
        Strategy("+suppression", "+camera_threshold", camera_threshold=True, suppression=True),
        Strategy("+temporal_frames", "+suppression", camera_threshold=True, suppression=True, temporal="frames"),
        Strategy("+temporal_median", "+suppression", camera_threshold=True, suppression=True, temporal="median"),
        Strategy("+verifier", "+suppression", camera_threshold=True, suppression=True, verifier=True),
        # Each alone on top of the plain threshold: what it does without the others' help.
        Strategy("threshold+temporal_frames", "threshold", temporal="frames"),
        Strategy("threshold+verifier", "threshold", verifier=True),
    ]


def camera_threshold(history: Sequence[tuple[str, float, bool]], camera: str, cfg: Config) -> float:
    """The recommendation from this camera's reviews, else from all cameras' reviews, else the default."""
    kwargs = {"target_recall": cfg.target_recall, "min_reviews": cfg.min_reviews, "min_positives": cfg.min_positives}
    own = [(s, p) for c, s, p in history if c == camera]
    for pairs in (own, [(s, p) for _, s, p in history]):
        if pairs:
            rec = thresholds.recommend_threshold([s for s, _ in pairs], [p for _, p in pairs], **kwargs)
            if rec is not None:
                return rec.threshold
    return cfg.threshold


class VerifierState:
    """The verifier as the replay sees it at each moment: trained only from clips reviewed so far."""

    def __init__(self, cfg: Config):
        from inference import verifier

        self.cfg = cfg
        self.model: verifier.Verifier | None = None
        self.trained_on = 0
        self.trainings = 0
        if cfg.verifier_model:
            self.model = verifier.load_verifier(cfg.verifier_model, tracking_uri=cfg.tracking_uri)

    def update(self, reviewed: Sequence[ClipData]) -> None:
        from inference import verifier

        if self.cfg.verifier_model or len(reviewed) - self.trained_on < self.cfg.verifier_every:
            return
        examples = [
            verifier.Example(c.camera, c.key, c.person, b.norm_box, b.descriptor, b.crop, b.box.score)
            for c in reviewed
            for f in c.frames
            for b in f.boxes
            if b.crop is not None
        ]
        crops, labels = verifier.build_examples(examples)
        self.trained_on = len(reviewed)
        try:
            result = verifier.train(crops, labels, seed=self.cfg.verifier_seed)
        except ValueError:  # too few of a class yet: keep the previous model (or none)
            return
        self.trainings += 1
        self.model = verifier.Verifier(result.model, threshold=result.threshold, version=f"replay-{self.trainings}")

    def accepts(self, boxes: Sequence[BoxData]) -> bool:
        if self.model is None:
            return True  # no model yet: the verifier vetoes nothing
        crops = np.stack([b.crop for b in boxes]) if boxes else np.zeros((0,))
        return self.model.accepts(crops)


def decide(
    s: Strategy, clip: ClipData, cfg: Config, verifier_state: VerifierState | None
) -> tuple[bool, float, list[BoxData]]:
    """(alert, effective score, the boxes that made the alert) for one clip under one strategy."""
    threshold = camera_threshold(s.history, clip.camera, cfg) if s.camera_threshold else cfg.threshold
    s.thresholds_used.append(threshold)
    rules = s.rules.get(clip.camera, []) if s.suppression else []
    kept_frames: list[FrameData] = []
    suppressed_any = False
    for f in clip.frames:
        kept = []
        for b in f.boxes:
            if rules and any(r.active(clip.recorded_at) and r.matches(b.norm_box, b.descriptor) for r in rules):
                suppressed_any = True
                continue
            kept.append(b)
        kept_frames.append(FrameData(f.time, kept))
    score = max((b.box.score for f in kept_frames for b in f.boxes), default=0.0)
    counting = [b for f in kept_frames for b in f.boxes if b.box.score >= threshold]
    alert = bool(counting)
    timed = [temporal.TimedBoxes(f.time, [b.box for b in f.boxes]) for f in kept_frames]
    if alert and s.temporal == "frames":
        alert = temporal.frames_at_least(
            timed, threshold=threshold, k=cfg.temporal_frames, sample_fps=cfg.sample_fps, sampled=clip.sampled
        )
    elif alert and s.temporal == "median":
        alert = temporal.track_median(
            timed,
            threshold=threshold,
            min_score=min(TRACK_MIN_SCORE, threshold),
            sample_fps=cfg.sample_fps,
            sampled=clip.sampled,
        )
    if alert and s.verifier and verifier_state is not None:
        alert = verifier_state.accepts(counting)
    if (
        suppressed_any
        and clip.person
        and not counting
        and any(b.box.score >= threshold for f in clip.frames for b in f.boxes)
    ):
        # Only the rules took the alert away. In production the reviewer's "person" verdict flags them.
        s.people_lost_to_rules += 1
    return alert, score, counting


def learn(s: Strategy, clip: ClipData, alert: bool, score: float, counting: list[BoxData], cfg: Config) -> None:
    """What the review of this clip teaches the strategy (used from the next, later clip on)."""
    s.history.append((clip.camera, score, clip.person))
    if s.suppression and alert and not clip.person:
        # A false alert the customer saw: the reviewer marks it "no person, suppress similar".
        groups = suppression.group_detections((b.norm_box, b.descriptor, b.box.score) for b in counting)
        expires = clip.recorded_at + timedelta(days=cfg.rule_days)
        rules = s.rules.setdefault(clip.camera, [])
        for g in groups:
            rules.append(
                suppression.Rule(
                    id=f"{clip.key}#{len(rules) + 1}", box=g.box, descriptor=g.descriptor, expires_at=expires
                )
            )


def simulate(clips: Sequence[ClipData], cfg: Config, names: Sequence[str] | None = None) -> list[Strategy]:
    """Run every strategy over the clips in time order. Clips recorded at the same time are decided
    together, before any of them is reviewed: none may learn from another."""
    chosen = [s for s in strategies() if names is None or s.name in names]
    needs_verifier = any(s.verifier for s in chosen)
    verifier_state = VerifierState(cfg) if needs_verifier else None
    ordered = sorted(clips, key=lambda c: c.recorded_at)
    reviewed: list[ClipData] = []
    i = 0
    while i < len(ordered):
        j = i
        while j < len(ordered) and ordered[j].recorded_at == ordered[i].recorded_at:
            j += 1
        batch = ordered[i:j]
        if verifier_state is not None:
            verifier_state.update(reviewed)
        outcomes = []
        for s in chosen:
            for clip in batch:
                alert, score, counting = decide(s, clip, cfg, verifier_state)
                s.decisions.append((clip.person, alert))
                outcomes.append((s, clip, alert, score, counting))
        for s, clip, alert, score, counting in outcomes:
            learn(s, clip, alert, score, counting, cfg)
        reviewed.extend(batch)
        i = j
    return chosen


def verdicts(summary: dict[str, dict], result: Sequence[Strategy]) -> dict[str, dict]:
    """For each strategy whose base also ran: does it help (fewer false alerts at equal recall)?
    The same test a verifier must pass to be promoted."""
    from inference.verifier import promotion_decision

    out = {}
    for s in result:
        if s.base in summary and s.name in summary:
            helps, reason = promotion_decision(summary[s.base], summary[s.name])
            out[s.name] = {"base": s.base, "helps": helps, "reason": reason}
    return out


# ------------------------------------------------------------------------------ command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inference.replay", description=__doc__.split("\n\n")[0])
    parser.add_argument("labels", type=Path)
    add_pipeline_arguments(parser)
    parser.add_argument("--target-recall", type=float, default=thresholds.TARGET_RECALL)
    parser.add_argument(
        "--min-reviews",
        type=int,
        default=thresholds.MIN_REVIEWS,
        help="reviewed clips a camera (else all cameras) needs before its threshold is recommended",
    )
    parser.add_argument("--min-positives", type=int, default=thresholds.MIN_POSITIVES)
    parser.add_argument("--rule-days", type=float, default=30.0, help="a suppression rule expires after this long")
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
        target_recall=args.target_recall,
        min_reviews=args.min_reviews,
        min_positives=args.min_positives,
        rule_days=args.rule_days,
        temporal_frames=args.temporal_frames,
        verifier_every=args.verifier_every,
        verifier_model=args.verifier_model,
        tracking_uri=args.tracking_uri,
    )
    try:
        rows, errors = read_labels(args.labels, required=REQUIRED)
        detector = load_detector(args.detector)
        if cfg.verifier_model:
            from inference.verifier import VerifierUnavailable, load_verifier

            try:  # fail now, not after detecting every clip
                load_verifier(cfg.verifier_model, tracking_uri=cfg.tracking_uri)
            except VerifierUnavailable as exc:
                raise ValueError(str(exc)) from exc
    except (ValueError, DetectorUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    started = time.perf_counter()
    rows.sort(key=lambda r: (r.recorded_at, r.number))
    need_crops = any(s.verifier for s in strategies() if names is None or s.name in names)
    clips: list[ClipData] = []
    by_key: dict[str, Row] = {}
    for row in rows:
        frames, hook = collect(crops=need_crops)
        try:
            detected = detect_row(
                args.labels.parent, row, detector, fps=args.fps, min_change=args.min_change, on_frame=hook
            )
        except InvalidVideo as exc:
            errors.append(f"row {row.number} ({row.clip_file}): {exc}")
            continue
        key = f"row{row.number}"
        by_key[key] = row
        clips.append(ClipData(key, row.camera, row.recorded_at, row.person, frames, detected.sampled))
    detect_s = time.perf_counter() - started
    for error in errors:
        print(f"error: {error}", file=sys.stderr)

    result = simulate(clips, cfg, names)
    ordered = sorted(clips, key=lambda c: c.recorded_at)
    header = "".join(f"{s.name:>18}" for s in result)
    print(f"{'row':>4}  {'camera':<14} {'recorded_at':<20} {'person':>6}{header}")
    for i, clip in enumerate(ordered):
        row = by_key[clip.key]
        marks = "".join(
            f"{('alert' if s.decisions[i][1] else '-') + ' @' + format(s.thresholds_used[i], '.2f'):>18}"
            for s in result
        )
        print(
            f"{row.number:>4}  {clip.camera:<14} {clip.recorded_at:%Y-%m-%d %H:%M:%S} {int(clip.person):>6}{marks}  {row.clip_file}"
        )

    summary = {s.name: counts(s.decisions) for s in result}
    base_fp = summary[result[0].name]["fp"]
    print(
        f"\n{'strategy':<26} {'tp':>4} {'fp':>4} {'fn':>4} {'tn':>4} {'recall':>7} {'precision':>9}  false alerts vs {result[0].name}"
    )
    for s in result:
        c = summary[s.name]

        def fmt(v):
            return "-" if v is None else f"{v:.3f}"

        extra = (
            f"  rules {sum(len(r) for r in s.rules.values())}, people lost to a rule {s.people_lost_to_rules}"
            if s.suppression
            else ""
        )
        print(
            f"{s.name:<26} {c['tp']:>4} {c['fp']:>4} {c['fn']:>4} {c['tn']:>4} {fmt(c['recall']):>7} {fmt(c['precision']):>9}"
            f"  {c['fp'] - base_fp:+d}{extra}"
        )
    judged = verdicts(summary, result)
    if judged:
        print("\ndoes it help (fewer false alerts at equal recall than its base)?")
        for name, v in judged.items():
            print(f"  {name:<26} vs {v['base']:<18} {'yes' if v['helps'] else 'no'}: {v['reason']}")
    print(
        f"\n{len(clips)} clips, {len(errors)} error(s); detection {detect_s:.1f} s, strategies "
        f"{time.perf_counter() - started - detect_s:.1f} s"
    )
    print(
        json.dumps(
            {
                "strategies": summary,
                "verdicts": judged,
                "clips": len(clips),
                "errors": len(errors),
                "threshold": args.threshold,
                "detector": detector.version,
            }
        )
    )
    return 0 if clips else 1


if __name__ == "__main__":
    sys.exit(main())

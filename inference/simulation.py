"""The replay's simulation: reviewed clips in time order through every false-alert strategy, each
strategy a configuration of the worker's own decision (`inference.decision.decide_clip`): which
rules (learnt so far, made as production makes them), which threshold, temporal evidence or not,
a verifier or not. `python -m inference.replay` (inference/replay.py) runs it on a LABELS.csv.

No look-ahead: a clip counts as reviewed — its label usable — from the next later time on, so a
threshold, rule or verifier used for a clip comes only from clips recorded before it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np

from inference import defaults, second_look, suppression, thresholds
from inference.decision import ClipDecision, Outcome
from inference.detector import PERSON, Box
from inference.pipeline import FrameResult
from inference.temporal import TemporalEvidence
from inference.thresholds import Counts
from inference.video import Frame

# ------------------------------------------------------------------------------ clip data


@dataclass
class ClipData:
    """What the detector found in one clip: all a strategy needs, computed once."""

    key: str  # the clip file, or any unique name
    camera: str
    recorded_at: datetime
    person: bool
    frames: list[FrameResult]  # as the pipeline gave them: boxes, descriptors, frame size, time
    sampled: int | None = None  # sampled frames, detected or left out as still (the pipeline's count)
    # Verifier crops by (position of the detected frame, box index); empty when no verifier runs.
    crops: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    path: str = ""  # the clip's file, for the second look (Config.second_look)


def crop_hook(min_score: float) -> tuple[dict[tuple[int, int], np.ndarray], Callable[[Frame, list[Box]], None]]:
    """An on_frame hook for detect_clip that cuts the verifier's crop of each person box scoring
    at least min_score (the descriptors are the pipeline's own)."""
    crops: dict[tuple[int, int], np.ndarray] = {}
    position = [0]

    def on_frame(frame: Frame, boxes: list[Box]) -> None:
        from inference import verifier

        for j, b in enumerate(boxes):
            if b.label == PERSON and b.score >= min_score:
                crops[(position[0], j)] = verifier.crop(frame.image, b)
        position[0] += 1

    return crops, on_frame


def described_from(frames: Sequence[FrameResult], floor: float) -> list[FrameResult]:
    """The frames as the worker would have them: a descriptor only for boxes at or above the
    camera's rule floor (the worker's describe_min_score)."""
    return [
        replace(
            f, descriptors=[d if d is not None and b.score >= floor else None for b, d in zip(f.boxes, f.descriptors)]
        )
        for f in frames
    ]


# ------------------------------------------------------------------------------ strategies


@dataclass
class Config:
    threshold: float
    sample_fps: float
    review_band: float = defaults.REVIEW_BAND
    jitter: float = defaults.SUPPRESSION_JITTER  # the rule floor's margin under the threshold, as in production
    max_rules: int = defaults.SUPPRESSION_MAX_RULES_PER_REVIEW
    target_recall: float = thresholds.TARGET_RECALL
    min_reviews: int = thresholds.MIN_REVIEWS
    min_positives: int = thresholds.MIN_POSITIVES
    rule_days: float = defaults.SUPPRESSION_RULE_DAYS
    temporal_frames: int = 2
    verifier_every: int = 10
    verifier_model: str = ""  # a file or models:/NAME@ALIAS: a fixed verifier instead of retraining
    tracking_uri: str = ""
    verifier_seed: int = 0
    # The worker's SECOND_LOOK (inference.second_look): the same look at the same clips in the band.
    second_look: second_look.SecondLook | None = None


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
    # Which rule suppressed what: rule id -> the clips (key, person, did it take the alert away)
    # where it suppressed a box; and rule id -> the clip it was made from.
    rule_hits: dict[str, list[tuple[str, bool, bool]]] = field(default_factory=dict)
    rule_sources: dict[str, str] = field(default_factory=dict)
    thresholds_used: list[float] = field(default_factory=list)
    # Clips decided on a second look (Config.second_look): the frames it saw, which the review learns from.
    looked: dict[str, list[FrameResult]] = field(default_factory=dict)


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


def describe_floor(cfg: Config, chosen: Sequence[Strategy]) -> float:
    """The lowest score any chosen strategy needs a descriptor (and a crop) for: the rule floor
    follows the threshold, and a recommended camera threshold can be anything, so every box of a
    strategy that learns thresholds; else the floor of the fixed threshold (or the verifier's
    MIN_SCORE, from which it trains)."""
    if any(s.camera_threshold for s in chosen):
        return 0.0
    floor = suppression.rule_floor(cfg.threshold, cfg.review_band, cfg.jitter)
    return min([floor] + [defaults.VERIFIER_MIN_SCORE for s in chosen if s.verifier])


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
            verifier.Example(c.camera, c.key, c.person, suppression.normalise_box(b, f.size), d, crop, b.score)
            for c in reviewed
            for i, f in enumerate(c.frames)
            for j, (b, d) in enumerate(zip(f.boxes, f.descriptors))
            if d is not None and (crop := c.crops.get((i, j))) is not None
        ]
        crops, labels = verifier.build_examples(examples)
        self.trained_on = len(reviewed)
        try:
            result = verifier.train(crops, labels, seed=self.cfg.verifier_seed)
        except ValueError:  # too few of a class yet: keep the previous model (or none)
            return
        self.trainings += 1
        self.model = verifier.Verifier(result.model, threshold=result.threshold, version=f"replay-{self.trainings}")

    def veto(self, clip: ClipData):
        """decide_clip's veto for this clip (None while there is no model yet: it vetoes nothing)."""
        from inference import verifier

        return verifier.CropVeto(self.model, clip.crops) if self.model is not None else None


def decide(
    s: Strategy, clip: ClipData, cfg: Config, verifier_state: VerifierState | None
) -> tuple[ClipDecision, float]:
    """One clip under one strategy: decide_clip configured by it, and the threshold it used."""
    threshold = camera_threshold(s.history, clip.camera, cfg) if s.camera_threshold else cfg.threshold
    s.thresholds_used.append(threshold)
    temporal = TemporalEvidence(s.temporal, sample_fps=cfg.sample_fps, k=cfg.temporal_frames) if s.temporal else None
    floor = suppression.rule_floor(threshold, cfg.review_band, cfg.jitter)
    # The worker's decision (decide_twice: the second look too when configured); the verifier
    # has crops of the first pass only, so on a second pass it is not asked (it vetoes nothing).
    decision, look = second_look.decide_twice(
        clip.path,
        clip.frames,
        second=cfg.second_look,
        describe_min_score=0.0,
        prepare=lambda frames: described_from(frames, floor),
        rules=s.rules.get(clip.camera, []) if s.suppression else [],
        threshold=threshold,
        review_band=cfg.review_band,
        now=clip.recorded_at,
        verifier=verifier_state.veto(clip) if s.verifier and verifier_state is not None else None,
        temporal=temporal,
        sampled=clip.sampled,
    )
    if look is not None:
        s.looked[clip.key] = look.frames
    took_alert = decision.outcome == Outcome.SUPPRESSED
    if took_alert and clip.person:
        # Only the rules took the alert away. In production the reviewer's "person" verdict flags them.
        s.people_lost_to_rules += 1
    for rule_id in sorted({str(r) for row in decision.suppressed_by for r in row if r is not None}):
        s.rule_hits.setdefault(rule_id, []).append((clip.key, clip.person, took_alert))
    return decision, threshold


def learn(s: Strategy, clip: ClipData, decision: ClipDecision, threshold: float, cfg: Config) -> None:
    """What the review of this clip teaches the strategy (used from the next, later clip on)."""
    s.history.append((clip.camera, decision.score, clip.person))
    if s.suppression and decision.alert and not clip.person:
        # A false alert the customer saw: the reviewer marks it "no person, suppress similar", and
        # the rules are made as production makes them.
        groups = suppression.rules_from_false_detections(
            # From the frames that decided (the detail the reviewer's rules are made from).
            suppression.false_detections((f.boxes, f.descriptors, f.size) for f in s.looked.get(clip.key, clip.frames)),
            floor=suppression.rule_floor(threshold, cfg.review_band, cfg.jitter),
            max_rules=cfg.max_rules,
        )
        expires = clip.recorded_at + timedelta(days=cfg.rule_days) if cfg.rule_days else None
        rules = s.rules.setdefault(clip.camera, [])
        for g in groups:
            s.rule_sources[f"{clip.key}#{len(rules) + 1}"] = clip.key
            rules.append(
                suppression.Rule(
                    id=f"{clip.key}#{len(rules) + 1}",
                    box=g.box,
                    descriptor=g.descriptor,
                    similarity_min=suppression.similarity_for(g.box),
                    expires_at=expires,
                )
            )


def simulate(clips: Sequence[ClipData], cfg: Config, names: Sequence[str] | None = None) -> list[Strategy]:
    """Run every strategy over the clips in time order. Clips recorded at the same time are decided
    together, before any of them is reviewed: none may learn from another."""
    chosen = [s for s in strategies() if names is None or s.name in names]
    verifier_state = VerifierState(cfg) if any(s.verifier for s in chosen) else None
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
                decision, threshold = decide(s, clip, cfg, verifier_state)
                s.decisions.append((clip.person, decision.alert))
                outcomes.append((s, clip, decision, threshold))
        for s, clip, decision, threshold in outcomes:
            learn(s, clip, decision, threshold, cfg)
        reviewed.extend(batch)
        i = j
    return chosen


def verdicts(summary: dict[str, Counts], result: Sequence[Strategy]) -> dict[str, dict]:
    """For each strategy whose base also ran: does it help (fewer false alerts at equal recall)?
    The same test a verifier must pass to be promoted."""
    from inference.verifier import promotion_decision

    out = {}
    for s in result:
        if s.base in summary and s.name in summary:
            helps, reason = promotion_decision(summary[s.base], summary[s.name])
            out[s.name] = {"base": s.base, "helps": helps, "reason": reason}
    return out

"""Does this clip alert? The one function that decides it: `decide_clip`.

The worker (reviewapp.review.processing), the replay (inference.replay), the evaluation
(inference.evaluate) and the verifier's held-out evaluation (reviewapp.tuning.verifier_training)
all decide through it, so what is measured is what runs. In order:

1. suppression: a person box is left out when an active rule matches its place AND its
   appearance (inference.suppression); a box without a descriptor is never suppressed;
2. score: the best person score left, 0 when none; the clip would alert at or above the threshold;
3. temporal evidence (optional, off in production): a person must be seen long enough;
4. the verifier's veto (optional): it must accept one of the boxes that would alert.

A clip whose alert was taken away by 3 or 4 goes to review (`near_threshold`): those are models
and rules of thumb, and their mistakes must reach a human. No Django here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

import numpy as np

from inference.detector import PERSON, Box
from inference.suppression import Rule, match_frames
from inference.temporal import TemporalEvidence, TimedBoxes

RuleId = int | str


class Frame(Protocol):
    """One detected frame as the pipeline gives it (inference.pipeline.FrameResult)."""

    @property
    def time(self) -> float: ...  # seconds from the start of the clip
    @property
    def boxes(self) -> Sequence[Box]: ...
    @property
    def descriptors(self) -> Sequence[np.ndarray | None]: ...  # parallel to boxes; None: not described
    @property
    def size(self) -> tuple[int, int]: ...  # width, height


@dataclass(frozen=True)
class BoxRef:
    """A box of a clip: which detected frame (its position in the frames given), which box of it."""

    frame: int
    box_index: int
    box: Box


class Veto(Protocol):
    """The verifier as the decision sees it: given the boxes that would make the clip alert, does
    it accept one of them? The worker's crops them while decoding, the replay from its stored crops."""

    def accepts(self, candidates: Sequence[BoxRef]) -> bool: ...


class Outcome(StrEnum):
    ALERT = "alert"
    VETOED = "vetoed"  # the score alerts, but temporal evidence or the verifier took it away
    SUPPRESSED = "suppressed"  # it would have alerted but for a suppression rule
    NEAR_THRESHOLD = "near_threshold"
    QUIET = "quiet"


@dataclass(frozen=True)
class ClipDecision:
    score: float  # the best unsuppressed person score in any frame, 0 when none
    alert: bool
    near_threshold: bool  # a human should look: the score is within the review band, or it was vetoed
    outcome: Outcome
    # For each frame, for each box, the id of the rule that suppressed it (None: not suppressed).
    suppressed_by: tuple[tuple[RuleId | None, ...], ...] = ()
    # Person boxes a rule suppressed: left out of `score`, counted here so a clip that would have
    # alerted without the rules can still be audited.
    suppressed: int = 0
    suppressed_score: float = 0.0  # the best score among them, 0 when none
    vetoed_by: str = ""  # "temporal" or "verifier" when one of them took the alert away
    decided_by: BoxRef | None = None  # the box that gives `score` (None: no unsuppressed person)

    @property
    def vetoed(self) -> bool:
        return bool(self.vetoed_by)


def decide_clip(
    frames: Sequence[Frame],
    *,
    rules: Sequence[Rule],
    threshold: float,
    review_band: float,
    now: datetime,
    verifier: Veto | None = None,
    temporal: TemporalEvidence | None = None,
    sampled: int | None = None,
) -> ClipDecision:
    """Decide one clip from its detected frames.

    `rules` are the camera's suppression rules (only those active at `now` apply). `sampled` is
    the pipeline's count of sampled frames (detected or left out as still), which temporal
    evidence needs to weigh each detected frame; None counts each detected frame once.
    """
    matched = match_frames(rules, [(f.boxes, f.descriptors, f.size) for f in frames], now=now)
    suppressed_by = tuple(tuple(r.id if r is not None else None for r in row) for row in matched)
    people = [BoxRef(i, j, b) for i, f in enumerate(frames) for j, b in enumerate(f.boxes) if b.label == PERSON]
    kept = [p for p in people if suppressed_by[p.frame][p.box_index] is None]
    ignored = [p.box.score for p in people if suppressed_by[p.frame][p.box_index] is not None]
    best = max(kept, key=lambda p: p.box.score, default=None)
    score = best.box.score if best is not None else 0.0
    vetoed_by = _veto(frames, kept, threshold, verifier, temporal, sampled) if score >= threshold else ""
    alert = score >= threshold and not vetoed_by
    near = bool(vetoed_by) or (best is not None and abs(score - threshold) <= review_band)
    suppressed_score = max(ignored, default=0.0)
    return ClipDecision(
        score=score,
        alert=alert,
        near_threshold=near,
        outcome=_outcome(alert, vetoed_by, suppressed_score >= threshold, near),
        suppressed_by=suppressed_by,
        suppressed=len(ignored),
        suppressed_score=suppressed_score,
        vetoed_by=vetoed_by,
        decided_by=best,
    )


def _veto(
    frames: Sequence[Frame],
    kept: Sequence[BoxRef],
    threshold: float,
    verifier: Veto | None,
    temporal: TemporalEvidence | None,
    sampled: int | None,
) -> str:
    """Who takes the alert of a clip whose score alerts away: "" (nobody), "temporal" or "verifier"."""
    if temporal is not None:
        by_frame: list[list[Box]] = [[] for _ in frames]
        for p in kept:
            by_frame[p.frame].append(p.box)
        timed = [TimedBoxes(f.time, boxes) for f, boxes in zip(frames, by_frame)]
        if not temporal.holds(timed, threshold=threshold, sampled=sampled):
            return "temporal"
    if verifier is not None and not verifier.accepts([p for p in kept if p.box.score >= threshold]):
        return "verifier"
    return ""


def _outcome(alert: bool, vetoed_by: str, rule_took_it: bool, near: bool) -> Outcome:
    if alert:
        return Outcome.ALERT
    if vetoed_by:
        return Outcome.VETOED
    if rule_took_it:
        return Outcome.SUPPRESSED
    return Outcome.NEAR_THRESHOLD if near else Outcome.QUIET

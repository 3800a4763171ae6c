"""From per-frame boxes to a clip decision: score, alert, and whether a human should look."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from inference.detector import PERSON, Box


@dataclass(frozen=True)
class ClipDecision:
    score: float  # the highest person score in any sampled frame, 0 when none
    alert: bool
    near_threshold: bool
    # Person boxes that matched a suppression rule: left out of `score`, but counted here so a
    # clip that would have alerted without the rules can still be audited.
    suppressed: int = 0
    suppressed_score: float = 0.0  # the best score among them, 0 when none


def decide(
    boxes_per_frame: Sequence[Sequence[Box]],
    *,
    threshold: float,
    review_band: float,
    suppressed_by: Sequence[Sequence[Hashable | None]] | None = None,
) -> ClipDecision:
    """`suppressed_by`, parallel to `boxes_per_frame`, names for each box the rule that suppresses
    it (None: not suppressed). Suppressed boxes do not count toward the score or the alert."""
    scores, ignored = [], []
    for i, boxes in enumerate(boxes_per_frame):
        rules = suppressed_by[i] if suppressed_by is not None else ()
        for j, b in enumerate(boxes):
            if b.label != PERSON:
                continue
            (ignored if j < len(rules) and rules[j] is not None else scores).append(b.score)
    score = max(scores, default=0.0)
    return ClipDecision(
        score=score,
        alert=score >= threshold,
        near_threshold=bool(scores) and abs(score - threshold) <= review_band,
        suppressed=len(ignored),
        suppressed_score=max(ignored, default=0.0),
    )

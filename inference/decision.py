"""From per-frame boxes to a clip decision: score, alert, and whether a human should look."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from inference.detector import PERSON, Box


@dataclass(frozen=True)
class ClipDecision:
    score: float  # the highest person score in any sampled frame, 0 when none
    alert: bool
    near_threshold: bool


def decide(
    boxes_per_frame: Sequence[Sequence[Box]], *, threshold: float, review_band: float
) -> ClipDecision:
    scores = [b.score for boxes in boxes_per_frame for b in boxes if b.label == PERSON]
    score = max(scores, default=0.0)
    return ClipDecision(
        score=score,
        alert=score >= threshold,
        near_threshold=bool(scores) and abs(score - threshold) <= review_band,
    )

"""Per-camera thresholds from reviewed clips: the precision/recall curve and a recommendation.

A clip alerts when its score >= the threshold. Reviewed clips give (score, is there a person?)
pairs; the recommended threshold is the HIGHEST one that still keeps the recall of confirmed
people at or above a target (99% by default): every false alert it removes is free, as long as
people are not lost. No Django here: the web pages, the scheduled job and the replay share it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

TARGET_RECALL = 0.99
MIN_POSITIVES = 10  # fewer confirmed people than this and one miss moves recall by >10%
MIN_REVIEWS = 30


@dataclass(frozen=True)
class Counts:
    """Clip counts of (person, alert) pairs: the one definition the thresholds, the replay, the
    evaluation and the verifier's promotion all count with. Ratios are exact here; they are
    rounded only where printed or serialised (`as_dict(digits=...)`)."""

    tp: int = 0  # people that alert
    fp: int = 0  # false alerts
    fn: int = 0  # people lost
    tn: int = 0
    threshold: float | None = None  # the threshold these counts are at, when they come from one

    @classmethod
    def of(cls, pairs: Iterable[tuple[bool, bool]], *, threshold: float | None = None) -> Counts:
        """Counts of (person, alert) pairs."""
        tp = fp = fn = tn = 0
        for person, alert in pairs:
            if person:
                tp, fn = tp + bool(alert), fn + (not alert)
            else:
                fp, tn = fp + bool(alert), tn + (not alert)
        return cls(tp, fp, fn, tn, threshold)

    @property
    def clips(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def as_dict(self, *, digits: int | None = None) -> dict:
        """{threshold (when set), tp, fp, fn, tn, recall, precision}; ratios rounded to `digits`
        when given (None stays None: a ratio with nothing to divide)."""

        def ratio(v: float | None) -> float | None:
            return round(v, digits) if v is not None and digits is not None else v

        head = {"threshold": self.threshold} if self.threshold is not None else {}
        return {
            **head,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "tn": self.tn,
            "recall": ratio(self.recall),
            "precision": ratio(self.precision),
        }


def _check(scores: Sequence[float], labels: Sequence[bool]) -> None:
    if len(scores) != len(labels):
        raise ValueError(f"{len(scores)} scores but {len(labels)} labels")


def counts_at(scores: Sequence[float], labels: Sequence[bool], threshold: float) -> Counts:
    _check(scores, labels)
    return Counts.of(((person, s >= threshold) for s, person in zip(scores, labels)), threshold=threshold)


def pr_curve(scores: Sequence[float], labels: Sequence[bool]) -> list[dict]:
    """One row per candidate threshold (every distinct score, ascending): threshold, tp, fp, fn, tn,
    recall, precision. Precision is None where nothing alerts, recall None without positives."""
    _check(scores, labels)
    return [counts_at(scores, labels, t).as_dict() for t in sorted(set(map(float, scores)))]


@dataclass(frozen=True)
class Recommendation:
    threshold: float
    target_recall: float
    reachable: bool  # False: some confirmed people score too low for any threshold to keep them
    reviews: int
    positives: int
    negatives: int
    at_threshold: Counts  # what the recommended threshold would have done on these reviews

    def as_dict(self) -> dict:
        d = asdict(self)
        d["at_threshold"] = self.at_threshold.as_dict()
        return d


def tradeoff(scores: Sequence[float], labels: Sequence[bool], *, current: float, proposed: float) -> dict:
    before, after = counts_at(scores, labels, current), counts_at(scores, labels, proposed)
    return {
        "current": before.as_dict(),
        "proposed": after.as_dict(),
        "false_alerts_removed": before.fp - after.fp,  # negative when the proposal adds false alerts
        "people_lost": after.fn - before.fn,  # negative when it recovers people
        "alerts_before": before.tp + before.fp,
        "alerts_after": after.tp + after.fp,
    }


def insufficient_evidence(
    scores: Sequence[float],
    labels: Sequence[bool],
    *,
    min_positives: int = MIN_POSITIVES,
    min_reviews: int = MIN_REVIEWS,
) -> str | None:
    """Why these reviews cannot give a recommendation, or None when they can."""
    _check(scores, labels)
    positives = [s for s, p in zip(scores, labels) if p]
    if len(labels) < min_reviews:
        return f"{len(labels)} reviewed clips; at least {min_reviews} are needed"
    if len(positives) < min_positives:
        return f"{len(positives)} confirmed people; at least {min_positives} are needed"
    if not any(s > 0 for s in positives):
        return f"the detector scored none of the {len(positives)} confirmed people: no threshold keeps them"
    return None


def recommend_threshold(
    scores: Sequence[float],
    labels: Sequence[bool],
    *,
    target_recall: float = TARGET_RECALL,
    min_positives: int = MIN_POSITIVES,
    min_reviews: int = MIN_REVIEWS,
) -> Recommendation | None:
    """The highest threshold keeping recall of confirmed people >= target_recall, or None when
    there are too few reviews (`insufficient_evidence` says why).

    With n confirmed people, the target allows floor((1 - target) * n) of them to be lost: the
    answer is the score of the ceil(target * n)-th best person. A person with score 0 (the
    detector saw nothing) cannot be kept by any threshold; if too many such people make the
    target unreachable, the answer keeps every person who can be kept (the lowest positive
    score above 0) and says `reachable=False`.
    """
    _check(scores, labels)
    if not 0 < target_recall <= 1:
        raise ValueError(f"target_recall must be in (0, 1], not {target_recall}")
    if insufficient_evidence(scores, labels, min_positives=min_positives, min_reviews=min_reviews):
        return None
    positive_scores = sorted((float(s) for s, p in zip(scores, labels) if p), reverse=True)
    needed = max(1, math.ceil(target_recall * len(positive_scores) - 1e-9))
    threshold = positive_scores[needed - 1]
    reachable = threshold > 0
    if not reachable:
        threshold = [s for s in positive_scores if s > 0][-1]
    return Recommendation(
        threshold=threshold,
        target_recall=target_recall,
        reachable=reachable,
        reviews=len(labels),
        positives=len(positive_scores),
        negatives=len(labels) - len(positive_scores),
        at_threshold=counts_at(scores, labels, threshold),
    )

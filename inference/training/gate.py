"""The promotion gate: the candidate against the production model on the held-out cameras'
reviewed clips, each clip run through the worker's pipeline and decided by THE decision function
(`inference.decision.decide_clip`, as `inference.evaluate` does: no rules, no verifier, the
camera threshold). Promoted only with fewer false alerts at equal or better recall
(`inference.verifier.promotion_decision`, the verifier's gate, the same rule).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from inference import defaults
from inference.decision import decide_clip
from inference.detector import Detector
from inference.labels import Row, detect_row, read_labels
from inference.thresholds import Counts
from inference.verifier import promotion_decision
from inference.video import InvalidVideo

NOW = datetime.now(UTC)  # decide_clip's `now` only dates rules, and there are none here
COUNT_KEYS = ("tp", "fp", "fn", "tn")


def heldout_rows(labels: Path, cameras: list[str] | None) -> list[Row]:
    """The rows of a labels CSV (inference/labels.py) of the held-out cameras (all without a list)."""
    rows, _errors = read_labels(labels, required=("clip_file", "person"))
    return [r for r in rows if not cameras or r.camera in cameras]


def evaluate(
    labels: Path, rows: list[Row], detector: Detector, *, threshold: float, thresholds: dict[str, float] | None = None
) -> tuple[Counts, list[dict]]:
    """Counts and per-clip scores of `detector` on these rows' clips, through decide_clip, each
    clip at its camera's threshold (`thresholds`, by camera name) or else `threshold`."""
    pairs, clips = [], []
    for row in rows:
        try:
            result = detect_row(
                labels.parent,
                row,
                detector,
                fps=defaults.env_float("SAMPLE_FPS", defaults.SAMPLE_FPS),
                min_change=defaults.env_float("MIN_CHANGE", defaults.MIN_CHANGE),
                describe_boxes=False,
            )
        except InvalidVideo:
            continue  # as evaluate: an unreadable clip is left out of both sides
        at = (thresholds or {}).get(row.camera, threshold)
        decision = decide_clip(result.frames, rules=[], threshold=at, review_band=0.0, now=NOW)
        pairs.append((row.person, decision.alert))
        clips.append(
            {"clip_file": row.clip_file, "camera": row.camera, "person": row.person, "score": round(decision.score, 4)}
        )
    return Counts.of(pairs), clips


def counts_dict(c: Counts) -> dict:
    return {k: getattr(c, k) for k in COUNT_KEYS}


def judge(before: Counts, after: Counts) -> tuple[bool, str]:
    """Promote only with fewer false alerts at equal or better recall on the same clips."""
    if before.clips == 0:
        return False, "no held-out clips to judge the candidate on"
    return promotion_decision(before, after)

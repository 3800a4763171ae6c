"""Temporal evidence: decide a clip from how long a person is seen, not from its single best frame.

Two rules, both applied to the person boxes that count (at or above the threshold, not suppressed):

- `frames_at_least(k)`: a person in at least `k` sampled frames. The pipeline leaves out sampled
  frames where nothing moved (they would give the same boxes again), so a detected frame stands for
  itself and the skipped sampled frames after it: `represented` counts them from the frame times.
- `track_median`: Frigate's `threshold`. Boxes are linked into tracks across frames (same place,
  IoU); a track's score at each step is the median of its last `window` scores, padded with zeros
  to `min_len` so a single lucky frame cannot reach it; the clip alerts when any track's running
  median reaches the threshold. Frigate's `min_score` is the floor a box needs to enter a track.

Both remove *transient* false positives (a reflection, a moth crossing the lens in one frame); a
static false positive is in every frame and only a suppression rule or the verifier removes it.
Whether either helps is measured by the replay (docs/suppression.md, "The replay"); neither is on
by default. `TemporalEvidence` is how `inference.decision.decide_clip` takes either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median

from inference.detector import PERSON, Box
from inference.suppression import iou

TRACK_MIN_SCORE = 0.1  # Frigate's min_score: a box below it never enters a track


@dataclass(frozen=True)
class TimedBoxes:
    """One detected frame: its time in the clip and its boxes that are not suppressed (any score)."""

    time: float
    boxes: Sequence[Box]


def represented(frames: Sequence[TimedBoxes], sample_fps: float, sampled: int | None = None) -> list[int]:
    """How many sampled frames each detected frame stands for (itself and the still ones after it).

    The last one stands for the rest of the `sampled` frames of the clip (the pipeline's count),
    or for itself only when that count is not known.
    """
    out = [max(1, round((frames[i + 1].time - f.time) * sample_fps)) for i, f in enumerate(frames[:-1])]
    if frames:
        out.append(max(1, sampled - sum(out)) if sampled is not None else 1)
    return out


def person_frames(
    frames: Sequence[TimedBoxes], *, threshold: float, sample_fps: float, sampled: int | None = None
) -> int:
    """Sampled frames with at least one person box at or above the threshold."""
    weights = represented(frames, sample_fps, sampled)
    return sum(w for f, w in zip(frames, weights) if any(b.label == PERSON and b.score >= threshold for b in f.boxes))


def frames_at_least(
    frames: Sequence[TimedBoxes], *, threshold: float, k: int, sample_fps: float, sampled: int | None = None
) -> bool:
    return person_frames(frames, threshold=threshold, sample_fps=sample_fps, sampled=sampled) >= k


@dataclass
class Track:
    boxes: list[Box] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)  # index of each box's frame

    @property
    def last_frame(self) -> int:
        return self.frames[-1]

    @property
    def last(self) -> Box:
        return self.boxes[-1]


def link_tracks(
    frames: Sequence[TimedBoxes], *, min_score: float, iou_min: float = 0.2, max_gap: int = 2
) -> list[Track]:
    """Greedy IoU tracking of person boxes with score >= min_score: each box joins the open track
    whose last box overlaps it most (a track stays open `max_gap` frames without a box), or starts one.
    A person walking at 2 fps moves a fraction of their width per frame, so IoU 0.2 follows them;
    two people crossing may swap tracks, which changes nothing for a clip-level decision."""
    tracks: list[Track] = []
    for i, frame in enumerate(frames):
        boxes = sorted((b for b in frame.boxes if b.label == PERSON and b.score >= min_score), key=lambda b: -b.score)
        taken: set[int] = set()
        for box in boxes:
            best, best_iou = None, iou_min
            for t_index, track in enumerate(tracks):
                if t_index in taken or i - track.last_frame > max_gap:
                    continue
                overlap = iou(track.last.as_list(), box.as_list())
                if overlap >= best_iou:
                    best, best_iou = t_index, overlap
            if best is None:
                tracks.append(Track([box], [i]))
                taken.add(len(tracks) - 1)
            else:
                tracks[best].boxes.append(box)
                tracks[best].frames.append(i)
                taken.add(best)
    return tracks


def running_median(scores: Sequence[float], *, window: int = 10, min_len: int = 3) -> float:
    """The best value of a track's running median score (Frigate: the median of the last `window`
    scores, padded with zeros up to `min_len`)."""
    best = 0.0
    for end in range(1, len(scores) + 1):
        recent = list(scores[max(0, end - window) : end])
        recent += [0.0] * (min_len - len(recent))
        best = max(best, median(recent))
    return best


def track_median(
    frames: Sequence[TimedBoxes],
    *,
    threshold: float,
    min_score: float,
    sample_fps: float,
    sampled: int | None = None,
    window: int = 10,
    min_len: int = 3,
) -> bool:
    """True when some track's running median score reaches the threshold. A box in a detected frame
    counts once for every sampled frame that frame stands for, as if the skipped still frames had
    been detected (they would have given the same box)."""
    weights = represented(frames, sample_fps, sampled)
    for track in link_tracks(frames, min_score=min_score):
        scores = [b.score for b, i in zip(track.boxes, track.frames) for _ in range(weights[i])]
        if running_median(scores, window=window, min_len=min_len) >= threshold:
            return True
    return False


@dataclass(frozen=True)
class TemporalEvidence:
    """One of the two rules, configured: what `decide_clip` asks of a clip whose score alerts."""

    rule: str  # "frames" or "median"
    sample_fps: float  # the pipeline's sampling rate: how many sampled frames a detected one stands for
    k: int = 2  # "frames": sampled frames a person must be in
    min_score: float = TRACK_MIN_SCORE  # "median": the floor of a track (never above the threshold)

    def __post_init__(self) -> None:
        if self.rule not in ("frames", "median"):
            raise ValueError(f"unknown temporal rule {self.rule!r}: frames or median")

    def holds(self, frames: Sequence[TimedBoxes], *, threshold: float, sampled: int | None = None) -> bool:
        if self.rule == "frames":
            return frames_at_least(frames, threshold=threshold, k=self.k, sample_fps=self.sample_fps, sampled=sampled)
        return track_median(
            frames,
            threshold=threshold,
            min_score=min(self.min_score, threshold),
            sample_fps=self.sample_fps,
            sampled=sampled,
        )

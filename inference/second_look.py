"""A second look at uncertain clips: the first pass runs at the working size; a clip whose best
score lies in the camera's review band (neither clearly a person nor clearly not) gets a second
pass with a larger detector (CenterNet at 512) on the frames that decided it, and the decision is
taken on that second pass. Only the uncertain clips pay for it.

`inference.evaluate --second-look SPEC` measures it: the margin between the best-scoring clip
without a person and the weakest person, with and without, and the extra detector time
(docs/detector.md). Not wired into the worker yet. No Django here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from inference.detector import PERSON, Box, Detector
from inference.pipeline import FrameResult
from inference.suppression import describe_many
from inference.video import read_frame

DEFAULT_SPEC = "centernet:512:onnxruntime"
DEFAULT_FRAMES = 3  # the deciding frames: the ones with the best first-pass person scores


def best_score(boxes: Sequence[Box]) -> float:
    return max((b.score for b in boxes if b.label == PERSON), default=0.0)


@dataclass
class SecondLook:
    detector: Detector
    band: float  # a clip whose first-pass score is within this of the threshold is uncertain
    frames: int = DEFAULT_FRAMES
    seconds: float = 0.0  # decode + detect + describe time spent, over every look
    looks: int = 0

    def needed(self, score: float, threshold: float) -> bool:
        """Is a clip with this first-pass score uncertain (in the review band, either side)?"""
        return score > 0 and abs(score - threshold) <= self.band

    def look(self, path: str | Path, frames: Sequence[FrameResult], *, describe_min_score: float) -> list[FrameResult]:
        """The deciding frames (best first-pass person scores, at most `frames`) decoded again
        and detected by the second detector, with descriptors of its person boxes from
        `describe_min_score` up, in time order: the frames to decide the clip on."""
        t0 = time.perf_counter()
        ranked = sorted(range(len(frames)), key=lambda i: -best_score(frames[i].boxes))[: self.frames]
        chosen = [frames[i] for i in sorted(ranked)]
        images = [read_frame(path, f.index) for f in chosen]
        out = []
        for f, image, boxes in zip(chosen, images, self.detector.detect(images)):
            wanted = [i for i, b in enumerate(boxes) if b.label == PERSON and b.score >= describe_min_score]
            descriptors: list = [None] * len(boxes)
            for i, d in zip(wanted, describe_many(image, [boxes[i] for i in wanted])):
                descriptors[i] = d
            out.append(FrameResult(f.index, f.time, boxes, descriptors, (image.shape[1], image.shape[0])))
        self.seconds += time.perf_counter() - t0
        self.looks += 1
        return out

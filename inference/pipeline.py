"""One clip through the detector: sample frames, detect in batches, time both.

The worker (reviewapp.services.clip_process), the evaluation command and the benchmarks all run
this same function, so what they measure is what production does.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from inference.detector import Box, Detector
from inference.video import Frame, InvalidVideo, sample_frames


@dataclass(frozen=True)
class FrameResult:
    index: int
    time: float
    boxes: list[Box]


@dataclass
class ClipResult:
    frames: list[FrameResult] = field(default_factory=list)
    decode_s: float = 0.0
    detect_s: float = 0.0

    @property
    def boxes_per_frame(self) -> list[list[Box]]:
        return [f.boxes for f in self.frames]


def detect_clip(path: str | Path, detector: Detector, *, sample_fps: float, batch_size: int = 8) -> ClipResult:
    """Run the detector on the frames sampled from a clip. Raises InvalidVideo when no frame decodes."""
    result = ClipResult()
    frames = sample_frames(path, fps=sample_fps)
    batch: list[Frame] = []
    while True:
        t0 = time.perf_counter()
        frame = next(frames, None)
        result.decode_s += time.perf_counter() - t0
        if frame is not None:
            batch.append(frame)
        if batch and (frame is None or len(batch) == batch_size):
            t0 = time.perf_counter()
            boxes = detector.detect([f.image for f in batch])
            result.detect_s += time.perf_counter() - t0
            result.frames += [FrameResult(f.index, f.time, b) for f, b in zip(batch, boxes)]
            batch = []
        if frame is None:
            break
    if not result.frames:
        raise InvalidVideo("no frame could be decoded")
    return result

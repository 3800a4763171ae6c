"""One clip through the detector: sample frames, skip the ones where nothing moved, detect in
batches, time it all.

The worker (reviewapp.review.processing.clip_process), the evaluation, the replay and the
benchmarks all run this same function, so what they measure is what production does.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from inference import defaults
from inference.detector import PERSON, Box, Detector
from inference.suppression import describe_many
from inference.video import Frame, InvalidVideo, sample_frames


@dataclass(frozen=True)
class FrameResult:
    index: int
    time: float
    boxes: list[Box]
    # One appearance descriptor per box (inference.suppression.describe; None for a box that is
    # not a person), taken while the frame is in memory: suppression rules are matched on them.
    descriptors: list[np.ndarray | None] = field(default_factory=list)
    size: tuple[int, int] = (0, 0)  # the frame's width, height


@dataclass
class ClipResult:
    frames: list[FrameResult] = field(default_factory=list)  # the frames the detector saw
    skipped: int = 0  # sampled frames left out because nothing moved since the last detected one
    decode_s: float = 0.0
    detect_s: float = 0.0
    describe_s: float = 0.0
    # Light of the sampled frames (monitoring's day/night): sums over `measured` frames.
    measured: int = 0
    saturation_sum: float = 0.0
    brightness_sum: float = 0.0

    @property
    def saturation(self) -> float | None:
        """Mean HSV saturation (0-255). Infrared night footage is nearly grey: close to 0."""
        return self.saturation_sum / self.measured if self.measured else None

    @property
    def brightness(self) -> float | None:
        return self.brightness_sum / self.measured if self.measured else None

    @property
    def sampled(self) -> int:
        return len(self.frames) + self.skipped


THUMB_SIZE = (80, 60)
PIXEL_CHANGE = 20  # grey levels (after blur) for a thumbnail pixel to count as changed


def _small(image: np.ndarray) -> np.ndarray:
    """The 80x60 copy of a frame that motion and light are measured on (one resize a frame)."""
    return cv2.resize(image, THUMB_SIZE, interpolation=cv2.INTER_AREA)


def _thumbnail(small: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), (3, 3), 0)


def measure_light(small: np.ndarray) -> tuple[float, float]:
    """(mean saturation, mean brightness as HSV value) of a frame's 80x60 copy: ~0.1 ms a frame."""
    hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
    return float(hsv[..., 1].mean()), float(hsv[..., 2].mean())


def changed_fraction(a: np.ndarray, b: np.ndarray) -> float:
    """Share of thumbnail pixels that changed between two thumbnails (0..1)."""
    return float((cv2.absdiff(a, b) > PIXEL_CHANGE).mean())


def detect_clip(
    path: str | Path,
    detector: Detector,
    *,
    sample_fps: float,
    batch_size: int = 1,
    min_change: float = 0.0,
    max_still_s: float = 10.0,
    describe_boxes: bool = True,
    describe_min_score: float = 0.0,
    on_frame: Callable[[Frame, list[Box]], None] | None = None,
    decode_ahead: int = defaults.DECODE_AHEAD,
) -> ClipResult:
    """Run the detector on the frames sampled from a clip. Raises InvalidVideo when no frame decodes.

    With `min_change` > 0 a sampled frame is left out when less than that share of its (80x60,
    blurred) thumbnail differs from the last frame the detector saw: a still scene gives the same
    boxes again. The first frame is always detected, and a still scene again every `max_still_s`.

    With `describe_boxes` every person box scoring at least `describe_min_score` gets its
    appearance descriptor (about 0.2 ms a box); the others get None.

    `on_frame(frame, boxes)` is called for every detected frame while its pixels are still at
    hand, for work that needs them (crops for the verifier) without decoding the clip a second time.

    With `decode_ahead` > 0 the frames are sampled on a thread of their own, up to that many
    ahead of the detector (OpenCV and onnxruntime both release the GIL): the same frames in the
    same order, so the same boxes; only the time changes (benchmarks/bench_pipeline.py).
    """
    result = ClipResult()
    frames = _frames_to_detect(path, result, sample_fps=sample_fps, min_change=min_change, max_still_s=max_still_s)
    if decode_ahead > 0:
        frames = _ahead(frames, decode_ahead)
    for batch in _batches(frames, batch_size):
        t0 = time.perf_counter()
        boxes = detector.detect([f.image for f in batch])
        result.detect_s += time.perf_counter() - t0
        for f, frame_boxes in zip(batch, boxes):
            descriptors = _describe(f.image, frame_boxes, describe_min_score, result) if describe_boxes else []
            size = (f.image.shape[1], f.image.shape[0])
            result.frames.append(FrameResult(f.index, f.time, frame_boxes, descriptors, size))
            if on_frame is not None:
                on_frame(f, frame_boxes)
    if not result.frames:
        raise InvalidVideo("no frame could be decoded")
    return result


def _frames_to_detect(
    path: str | Path, result: ClipResult, *, sample_fps: float, min_change: float, max_still_s: float
) -> Iterator[Frame]:
    """The sampled frames, their light measured, the still ones left out (counted in `result`)."""
    frames = sample_frames(path, fps=sample_fps)
    last_thumb: np.ndarray | None = None
    last_time = -1e9
    while True:
        t0 = time.perf_counter()
        frame = next(frames, None)
        if frame is None:
            result.decode_s += time.perf_counter() - t0
            return
        small = _small(frame.image)
        sat, bright = measure_light(small)
        result.measured += 1
        result.saturation_sum += sat
        result.brightness_sum += bright
        if min_change > 0:
            thumb = _thumbnail(small)
            still = (
                last_thumb is not None
                and frame.time - last_time < max_still_s
                and changed_fraction(thumb, last_thumb) < min_change
            )
            if still:
                result.skipped += 1
                result.decode_s += time.perf_counter() - t0
                continue
            last_thumb, last_time = thumb, frame.time
        result.decode_s += time.perf_counter() - t0
        yield frame


_END = object()


def _ahead(frames: Iterator[Frame], depth: int) -> Iterator[Frame]:
    """`frames`, produced on a thread up to `depth` ahead. Its exception is raised here; leaving
    the loop early (the detector failed) stops the thread at its next frame."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for frame in frames:
                if stop.is_set():
                    return
                ready.put(frame)
            ready.put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            ready.put(exc)

    thread = threading.Thread(target=produce, name="decode-ahead", daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.05)
        thread.join()


def _batches(frames: Iterable[Frame], size: int) -> Iterator[list[Frame]]:
    batch: list[Frame] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _describe(image: np.ndarray, boxes: list[Box], min_score: float, result: ClipResult) -> list[np.ndarray | None]:
    """The descriptor of each person box scoring at least min_score (None for the others)."""
    t0 = time.perf_counter()
    wanted = [i for i, b in enumerate(boxes) if b.label == PERSON and b.score >= min_score]
    descriptors: list[np.ndarray | None] = [None] * len(boxes)
    for i, d in zip(wanted, describe_many(image, [boxes[i] for i in wanted])):
        descriptors[i] = d
    result.describe_s += time.perf_counter() - t0
    return descriptors

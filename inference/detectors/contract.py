"""The contract the company's own detector must follow, as a TorchScript or an ONNX file:

- input: float32 [N, 3, S, S], RGB, values 0..1, each frame stretched to S x S
  (S = 640 unless the spec says `@S`);
- output: float32 [N, K, 6] (a TorchScript model may return a list of N [K_i, 6] tensors), rows
  (x1, y1, x2, y2, score, class) in input pixels, score 0..1, class 0 = person (COCO order);
  rows with score 0 are padding. Non-maximum suppression is the model's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from inference.detector import Box, DetectorUnavailable

DEFAULT_INPUT_SIZE = 640
PERSON_CLASS = 0


def parse_spec(backend: str, arg: str) -> tuple[Path, int]:
    """ "/models/x.pt@416" -> (path, 416); the size defaults to 640."""
    path, _, size = arg.rpartition("@") if "@" in arg else (arg, "", "")
    if not path:
        raise DetectorUnavailable(f"{backend}: give the model file, e.g. {backend}:/models/detector")
    try:
        input_size = int(size) if size else DEFAULT_INPUT_SIZE
    except ValueError:
        raise DetectorUnavailable(f"{backend}: input size must be an integer, got {size!r}") from None
    return Path(path), input_size


def to_input(frames: Sequence[np.ndarray], size: int) -> np.ndarray:
    """BGR frames -> the contract's input: float32 NCHW RGB 0..1, stretched to size x size."""
    batch = np.stack([cv2.resize(f, (size, size))[:, :, ::-1] for f in frames]).astype(np.float32) / 255.0
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))


def rows_to_boxes(rows: np.ndarray, *, input_size: int, frame_w: int, frame_h: int) -> list[Box]:
    """Person rows of one frame's [K, 6] output, mapped back to the frame's pixels."""
    sx, sy = frame_w / input_size, frame_h / input_size
    boxes = []
    for x1, y1, x2, y2, score, cls in rows.reshape(-1, 6):
        if score <= 0 or round(cls) != PERSON_CLASS:
            continue
        boxes.append(
            Box(
                float(np.clip(x1 * sx, 0, frame_w)),
                float(np.clip(y1 * sy, 0, frame_h)),
                float(np.clip(x2 * sx, 0, frame_w)),
                float(np.clip(y2 * sy, 0, frame_h)),
                float(score),
            )
        )
    return boxes


def outputs_to_boxes(per_frame: Sequence[np.ndarray], frames: Sequence[np.ndarray], input_size: int) -> list[list[Box]]:
    if len(per_frame) != len(frames):
        raise ValueError(f"the model returned {len(per_frame)} results for {len(frames)} frames")
    return [
        rows_to_boxes(rows, input_size=input_size, frame_w=f.shape[1], frame_h=f.shape[0])
        for rows, f in zip(per_frame, frames)
    ]

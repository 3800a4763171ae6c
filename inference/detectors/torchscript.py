"""The company's own model as a TorchScript file: `DETECTOR=torchscript:/path/model.pt` or
`torchscript:/path/model.pt@416` (input size, default 640).

The output contract the model must follow (documented in the README too):
- input: float32 tensor [N, 3, S, S], RGB, values 0..1, each frame stretched to S x S;
- output: float32 tensor [N, K, 6] (or a list of N tensors [K_i, 6]), rows
  (x1, y1, x2, y2, score, class) in input pixels, score 0..1, class 0 = person (COCO order);
  rows with score 0 are padding. Non-maximum suppression is the model's job.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch

from inference.detector import Box, DetectorUnavailable, register

DEFAULT_INPUT_SIZE = 640
PERSON_CLASS = 0


def parse_spec(arg: str) -> tuple[Path, int]:
    path, _, size = arg.rpartition("@") if "@" in arg else (arg, "", "")
    if not path:
        raise DetectorUnavailable("torchscript: give the model file, e.g. torchscript:/models/detector.pt")
    try:
        input_size = int(size) if size else DEFAULT_INPUT_SIZE
    except ValueError:
        raise DetectorUnavailable(f"torchscript: input size must be an integer, got {size!r}") from None
    return Path(path), input_size


def to_input(frames: Sequence[np.ndarray], size: int) -> torch.Tensor:
    batch = np.stack([cv2.resize(f, (size, size))[:, :, ::-1] for f in frames]).astype(np.float32) / 255.0
    return torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous()


def rows_to_boxes(rows: np.ndarray, *, input_size: int, frame_w: int, frame_h: int) -> list[Box]:
    """Person rows of one frame's [K, 6] output, mapped back to the frame's pixels."""
    sx, sy = frame_w / input_size, frame_h / input_size
    boxes = []
    for x1, y1, x2, y2, score, cls in rows.reshape(-1, 6):
        if score <= 0 or int(round(cls)) != PERSON_CLASS:
            continue
        boxes.append(Box(
            float(np.clip(x1 * sx, 0, frame_w)), float(np.clip(y1 * sy, 0, frame_h)),
            float(np.clip(x2 * sx, 0, frame_w)), float(np.clip(y2 * sy, 0, frame_h)), float(score),
        ))
    return boxes


class TorchScriptDetector:
    name = "torchscript"

    def __init__(self, path: Path, input_size: int = DEFAULT_INPUT_SIZE) -> None:
        if not path.is_file():
            raise DetectorUnavailable(f"torchscript model not found: {path}")
        try:
            self._model = torch.jit.load(str(path), map_location="cpu").eval()
        except Exception as exc:  # torch raises RuntimeError and friends for a bad file
            raise DetectorUnavailable(f"cannot load TorchScript model {path}: {exc}") from exc
        self.input_size = input_size
        self.version = f"torchscript-{path.stem}-{input_size}"

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Box]]:
        if not frames:
            return []
        with torch.inference_mode():
            output = self._model(to_input(frames, self.input_size))
        per_frame = list(output) if isinstance(output, (list, tuple)) else [output[i] for i in range(len(frames))]
        if len(per_frame) != len(frames):
            raise ValueError(f"the model returned {len(per_frame)} results for {len(frames)} frames")
        return [
            rows_to_boxes(np.asarray(rows, dtype=np.float32), input_size=self.input_size,
                          frame_w=f.shape[1], frame_h=f.shape[0])
            for rows, f in zip(per_frame, frames)
        ]


register("torchscript", lambda arg: TorchScriptDetector(*parse_spec(arg)))

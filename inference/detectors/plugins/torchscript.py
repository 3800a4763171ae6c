"""The company's own model as a TorchScript file: `DETECTOR=torchscript:/path/model.pt` or
`torchscript:/path/model.pt@416` (input size, default 640).

The model follows the contract in `inference.detectors.contract` (and docs/detector.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from inference.detector import Box, DetectorUnavailable, register, threads
from inference.detectors.contract import outputs_to_boxes, parse_spec, to_input


@register
class TorchScriptDetector:
    name = "torchscript"

    def __init__(self, path: Path, input_size: int) -> None:
        if not path.is_file():
            raise DetectorUnavailable(f"torchscript model not found: {path}")
        import torch  # here: importing the plugin must not cost its runtime

        self._torch = torch
        if threads():
            torch.set_num_threads(threads())
        try:
            self._model = torch.jit.load(str(path), map_location="cpu").eval()
        except Exception as exc:  # torch raises RuntimeError and friends for a bad file
            raise DetectorUnavailable(f"cannot load TorchScript model {path}: {exc}") from exc
        self.input_size = input_size
        self.version = f"torchscript-{path.stem}-{input_size}"

    @classmethod
    def from_spec(cls, arg: str) -> TorchScriptDetector:
        """Spec "torchscript:<path>[@<input size>]"."""
        return cls(*parse_spec(cls.name, arg))

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Box]]:
        if not frames:
            return []
        with self._torch.inference_mode():
            output = self._model(self._torch.from_numpy(to_input(frames, self.input_size)))
        per_frame = list(output) if isinstance(output, (list, tuple)) else [output[i] for i in range(len(frames))]
        return outputs_to_boxes([np.asarray(rows, dtype=np.float32) for rows in per_frame], frames, self.input_size)

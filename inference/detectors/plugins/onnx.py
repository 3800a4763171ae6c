"""The company's own model as an ONNX file, run with onnxruntime:
`DETECTOR=onnx:/path/model.onnx` or `onnx:/path/model.onnx@416`.

The model follows the contract in `inference.detectors.contract` (the same as TorchScript's).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from inference.detector import Box, DetectorUnavailable, register, threads
from inference.detectors.contract import outputs_to_boxes, parse_spec, to_input


@register
class OnnxDetector:
    name = "onnx"

    def __init__(self, path: Path, input_size: int) -> None:
        import onnxruntime as ort  # here: importing the plugin must not cost its runtime

        if not path.is_file():
            raise DetectorUnavailable(f"onnx model not found: {path}")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads()  # 0: onnxruntime's default, one per core
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for a bad file
            raise DetectorUnavailable(f"cannot load ONNX model {path}: {exc}") from exc
        self._input = self._session.get_inputs()[0].name
        self.input_size = input_size
        self.version = f"onnx-{path.stem}-{input_size}"

    @classmethod
    def from_spec(cls, arg: str) -> OnnxDetector:
        """Spec "onnx:<path>[@<input size>]"."""
        return cls(*parse_spec(cls.name, arg))

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Box]]:
        if not frames:
            return []
        (output, *_rest) = self._session.run(None, {self._input: to_input(frames, self.input_size)})
        return outputs_to_boxes(list(np.asarray(output, dtype=np.float32)), frames, self.input_size)

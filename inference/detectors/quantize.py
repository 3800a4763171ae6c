"""The int8 version of a network's ONNX file: onnxruntime static quantization (QDQ format,
int8 per-channel weights, uint8 activations), calibrated on frames of project clips.

    python -m inference.detectors.export centernet:320:onnxruntime-int8 --calibration DIR

DIR holds clips (e.g. `benchmarks/make_footage_set.py DIR`); frames are sampled from them at
1 fps and preprocessed exactly as the detector does, so the activation ranges are those of
camera frames. The file sits beside the fp32 one: `<fp32 name>-int8.onnx` (its name carries
the fp32 file's hash, so a changed model or interpreter gets a new int8 file too; another
calibration set needs the file deleted first). Accuracy against fp32: docs/detector.md.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from inference.detector import DetectorUnavailable
from inference.detectors.graph_runtime import INPUT_NAME, TfjsModel, onnx_export, onnx_path

log = logging.getLogger(__name__)

# The last ops before each output (the heads' two convolutions, sigmoid, transpose) stay fp32:
# quantized, the heat map's scores fall on a few levels (measured on the evaluation set: eight
# clips scoring one of three values, the margin gone), which thresholds and rules cannot use.
FP32_HEAD_OPS = 4
CALIBRATION_FPS = 1.0
CALIBRATION_FRAMES = 64  # at most: more costs export time and moved no score in our trials
VIDEO_SUFFIXES = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".ts")


def int8_path(model: TfjsModel) -> Path:
    fp32 = onnx_path(model)
    return fp32.with_name(f"{fp32.stem}-int8.onnx")


def int8_file(model: TfjsModel) -> Path:
    """`model`'s int8 file, which must have been written by the export."""
    path = int8_path(model)
    if path.is_file():
        return path
    raise DetectorUnavailable(
        f"{model.label} int8 ONNX file {path} not found: run `python -m inference.detectors.export "
        f"{model.name}:{model.input_size}:onnxruntime-int8 --calibration DIR` (DIR: project clips)"
    )


def calibration_frames(clip_dir: Path, limit: int = CALIBRATION_FRAMES) -> list[np.ndarray]:
    """Up to `limit` BGR frames sampled at CALIBRATION_FPS, spread over the clips of `clip_dir`."""
    from inference.video import InvalidVideo, sample_frames

    clips = sorted(p for p in clip_dir.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    if not clips:
        raise DetectorUnavailable(f"no clips to calibrate on in {clip_dir}")
    per_clip = max(1, -(-limit // len(clips)))
    frames: list[np.ndarray] = []
    for clip in clips:
        try:
            frames += [f.image for _, f in zip(range(per_clip), sample_frames(clip, fps=CALIBRATION_FPS))]
        except InvalidVideo:
            log.warning("calibration: %s cannot be read, left out", clip)
    return frames[:limit]


def head_nodes(path: Path, depth: int = FP32_HEAD_OPS) -> list[str]:
    """The names of the last `depth` nodes on the first-input path back from each graph output."""
    import onnx

    graph = onnx.load(str(path)).graph
    producer = {out: node for node in graph.node for out in node.output}
    names: list[str] = []
    for output in graph.output:
        node = producer.get(output.name)
        for _ in range(depth):
            if node is None:
                break
            names.append(node.name)
            node = next((producer[i] for i in node.input if i in producer), None)
    return names


def int8_export(
    model: TfjsModel, calibration_dir: Path | None, preprocess: Callable[[list[np.ndarray], int], np.ndarray]
) -> Path:
    """Write `model`'s int8 file unless it is there (atomic, as the fp32 export)."""
    path = int8_path(model)
    if path.is_file():
        return path
    if calibration_dir is None:
        raise DetectorUnavailable("an int8 export needs --calibration DIR (clips of the project's cameras)")
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    start = time.perf_counter()
    frames = calibration_frames(calibration_dir)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches: Iterator[np.ndarray] = (preprocess([f], model.input_size) for f in frames)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._batches, None)
            return None if batch is None else {INPUT_NAME: batch}

    fp32 = onnx_export(model)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32), str(prepared))
        quantize_static(
            str(prepared),
            str(part),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_exclude=head_nodes(prepared),
        )
    os.replace(part, path)
    log.info(
        "wrote %s in %.1f s, calibrated on %d frames of %s",
        path,
        time.perf_counter() - start,
        len(frames),
        calibration_dir,
    )
    return path

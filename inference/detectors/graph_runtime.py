"""How a TF.js network of the npm package runs: the graph interpreter (`inference.tfjs_graph`) in
torch, traced, or the network's ONNX file in onnxruntime. Both take and give numpy arrays, so a
detector's pre- and post-processing never see a tensor and the onnxruntime path never imports
torch: a worker running the default detector carries onnxruntime only (~300 MB and ~3 s less).

The ONNX file is written once, ahead of time, by `python -m inference.detectors.export SPEC`
(scripts/fetch_models.sh runs it, so `make install`, and so does the image build), never at a
worker's start. Its name says what made it: `<model dir>/onnx/<name>-<input size>-<hash>.onnx`,
the hash over the model's files (topology and weights), the export's parameters (outputs, input
layout, batch) and the source of the interpreter and of this module (the code that wrote it). A
changed model or interpreter gets a new name, so a stale file is never served; a missing file
is a DetectorUnavailable saying the command to run. (Not built on first use: that would import
torch into the worker for its whole life, race between workers starting together, and need a
writable model folder in the image.) torch's version is left out of the hash: another exporter
writes the same network.
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inference.detector import DetectorUnavailable, threads

log = logging.getLogger(__name__)

# A network: a preprocessed float32 batch in, the requested graph outputs out (in TF's layout).
Network = Callable[[np.ndarray], tuple[np.ndarray, ...]]
INPUT_NAME = "images"
RUNTIMES = ("torch", "onnxruntime")


@dataclass(frozen=True)
class TfjsModel:
    """One network of the package at one input size, as the detector runs it."""

    name: str  # the plugin's, e.g. "centernet"
    label: str  # for messages, e.g. "CenterNet"
    path: Path  # the model.json
    input_size: int
    stride: int  # the input side must be a multiple of it
    outputs: tuple[str, ...]
    input_layout: str = "NHWC"
    dynamic_batch: bool = True  # False: the graph bakes batch 1

    def __post_init__(self) -> None:
        if self.input_size <= 0 or self.input_size % self.stride:
            raise DetectorUnavailable(
                f"{self.label.lower()} input size must be a positive multiple of {self.stride}, got {self.input_size}"
            )
        if not self.path.is_file() or not self.path.with_suffix(".bin").is_file():
            raise DetectorUnavailable(
                f"{self.label} model files not found at {self.path.parent} "
                "(run scripts/fetch_models.sh, or set VIGIA_MODEL_DIR)"
            )

    @property
    def example_shape(self) -> tuple[int, int, int, int]:
        s = self.input_size
        return (1, 3, s, s) if self.input_layout == "NCHW" else (1, s, s, 3)

    @property
    def spec(self) -> str:
        return f"{self.name}:{self.input_size}:onnxruntime"


def network(model: TfjsModel, *, runtime: str, jit: bool = True) -> Network:
    """The network in `runtime`: "onnxruntime" (from its ONNX file) or "torch" (traced when `jit`)."""
    if runtime == "onnxruntime":
        return OnnxNetwork(onnx_file(model))
    if runtime == "torch":
        return torch_network(model, jit=jit)
    raise DetectorUnavailable(f"{model.name}: unknown runtime {runtime!r} ({' or '.join(RUNTIMES)})")


# ---------------------------------------------------------------------------------------- torch


def interpreter(model: TfjsModel) -> Any:
    """The TF.js graph interpreter (a torch module) for `model`'s outputs."""
    # Imported here: it imports torch, which only the torch runtime and the export need.
    from inference.tfjs_graph import TfjsGraph, TfjsGraphError

    try:
        return TfjsGraph(model.path, outputs=model.outputs, input_layout=model.input_layout).eval()
    except TfjsGraphError as exc:
        raise DetectorUnavailable(f"cannot load {model.label} from {model.path}: {exc}") from exc


class TorchNetwork:
    """A torch module (the interpreter, traced or compiled) behind the numpy interface."""

    def __init__(self, module: Any) -> None:
        import torch  # only a torch network needs it (see the module's docstring)

        self.module = module
        self._torch = torch

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, ...]:
        with self._torch.inference_mode():
            return tuple(t.numpy() for t in self.module(self._torch.from_numpy(batch)))


def torch_network(model: TfjsModel, *, jit: bool) -> TorchNetwork:
    import torch  # only the torch runtime needs it (see the module's docstring)

    if threads():
        torch.set_num_threads(threads())
    module = interpreter(model)
    return TorchNetwork(traced(module, torch.zeros(model.example_shape)) if jit else module)


def traced(module: Any, example: Any) -> Any:
    """The interpreter traced and frozen at this input size: the same outputs, about a third
    faster, and under a second to build (benchmarks/bench_detector.py)."""
    import torch

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # torch.jit.trace is deprecated in 2.13 but still the fastest here
        return torch.jit.freeze(torch.jit.trace(module, example, check_trace=False))


# ---------------------------------------------------------------------------------- onnxruntime


class OnnxNetwork:
    """The network's ONNX file run by onnxruntime, with `inference.detector.threads()` threads."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort  # only this runtime needs it

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads()  # 0: onnxruntime's default, one per core
        # onnxruntime's pool threads spin after each run by default. The pipeline decodes the next
        # frame on this process's main thread between runs, so spinning steals the core it needs:
        # measured 25 -> 14 ms per frame (run + a blur in between) with spinning off, 2 cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for a bad file
            raise DetectorUnavailable(f"cannot load {path}: {exc}") from exc

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, ...]:
        return tuple(self.session.run(None, {INPUT_NAME: batch}))


def _sources() -> list[Path]:
    """The code that decides the exported graph: the interpreter's modules and this one."""
    # find_spec, not an import: importing the interpreter imports torch.
    spec = importlib.util.find_spec("inference.tfjs_graph")
    assert spec is not None and spec.submodule_search_locations
    return [*sorted(Path(spec.submodule_search_locations[0]).glob("*.py")), Path(__file__)]


def _shards(model: TfjsModel) -> list[Path]:
    manifest = json.loads(model.path.read_text()).get("weightsManifest", [])
    return [model.path.parent / p for group in manifest for p in group["paths"]]


def onnx_path(model: TfjsModel) -> Path:
    """Where `model`'s ONNX file is, named by what it is made of (see the module's docstring)."""
    digest = hashlib.sha256()
    params = [model.outputs, model.input_layout, model.input_size, model.dynamic_batch, INPUT_NAME]
    digest.update(json.dumps(params).encode())
    for path in [model.path, *_shards(model), *_sources()]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    onnx_dir = model.path.parents[2] / "onnx"  # <model dir>/onnx, beside the package
    return onnx_dir / f"{model.name}-{model.input_size}-{digest.hexdigest()[:12]}.onnx"


def onnx_file(model: TfjsModel) -> Path:
    """`model`'s ONNX file, which must have been written by the export."""
    path = onnx_path(model)
    if path.is_file():
        return path
    others = sorted(p.name for p in path.parent.glob(f"{model.name}-{model.input_size}-*.onnx"))
    hint = f"; {', '.join(others)} there came from other weights or code" if others else ""
    raise DetectorUnavailable(
        f"{model.label} ONNX file {path} not found{hint}: run "
        f"`python -m inference.detectors.export {model.spec}` (scripts/fetch_models.sh does)"
    )


def onnx_export(model: TfjsModel) -> Path:
    """Write `model`'s ONNX file, exported from the interpreter, unless it is there. Atomic: a
    failed or concurrent export never leaves a partial file under the final name."""
    path = onnx_path(model)
    if path.is_file():
        return path
    import torch  # the export is the one place the onnxruntime runtime needs torch

    start = time.perf_counter()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # the TorchScript-based exporter is deprecated, still the one that reads these graphs
        warnings.simplefilter("ignore")
        torch.onnx.export(
            interpreter(model),
            (torch.zeros(model.example_shape),),
            buffer,
            dynamo=False,
            input_names=[INPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "n"}} if model.dynamic_batch else None,
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{os.getpid()}.part")
    part.write_bytes(buffer.getvalue())
    os.replace(part, path)
    log.info("wrote %s in %.1f s", path, time.perf_counter() - start)
    return path

"""Ways to run a network built by `inference.tfjs_graph` faster than the interpreter itself.

Both take the interpreter module and an example input of the size the detector will use.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from inference.detector import DetectorUnavailable
from inference.tfjs_graph import TfjsGraph, TfjsGraphError

Network = Callable[[torch.Tensor], tuple[torch.Tensor, ...]]


def parse_spec(name: str, arg: str, default_size: int) -> tuple[int, str]:
    """(input size, runtime) from the text after "<name>:" in a spec such as "centernet:320:onnxruntime"."""
    size, _, runtime = arg.partition(":")
    try:
        return (int(size) if size else default_size), runtime or "torch"
    except ValueError:
        raise DetectorUnavailable(f"{name}: input size must be an integer, got {size!r}") from None


def load_graph(
    label: str, path: Path, *, input_size: int, stride: int, outputs: Sequence[str], input_layout: str = "NHWC"
) -> TfjsGraph:
    """A model of the npm package, checked: an input size the network can take, both files
    present; any failure is a DetectorUnavailable that says what to do."""
    if input_size <= 0 or input_size % stride:
        raise DetectorUnavailable(
            f"{label.lower()} input size must be a positive multiple of {stride}, got {input_size}"
        )
    if not path.is_file() or not path.with_suffix(".bin").is_file():
        raise DetectorUnavailable(
            f"{label} model files not found at {path.parent} (run scripts/fetch_models.sh, or set VIGIA_MODEL_DIR)"
        )
    try:
        return TfjsGraph(path, outputs=outputs, input_layout=input_layout).eval()
    except TfjsGraphError as exc:
        raise DetectorUnavailable(f"cannot load {label} from {path}: {exc}") from exc


def traced(module: torch.nn.Module, example: torch.Tensor) -> torch.nn.Module:
    """The interpreter traced and frozen at this input size: the same outputs, about a third
    faster, and under a second to build (benchmarks/bench_detector.py)."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # torch.jit.trace is deprecated in 2.13 but still the fastest here
        return torch.jit.freeze(torch.jit.trace(module, example, check_trace=False))


def onnxruntime_session(module: torch.nn.Module, example: torch.Tensor, *, dynamic_batch: bool = True) -> Network:
    """The same graph exported to ONNX (in memory, from the interpreter) and run by onnxruntime,
    with as many threads as torch is set to when this is called."""
    import onnxruntime as ort

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # the TorchScript-based exporter is deprecated, still the one that reads these graphs
        torch.onnx.export(
            module,
            (example,),
            buffer,
            dynamo=False,
            input_names=["images"],
            dynamic_axes={"images": {0: "n"}} if dynamic_batch else None,
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    # onnxruntime's pool threads spin after each run by default. The pipeline decodes the next
    # frame on this process's main thread between runs, so spinning steals the core it needs:
    # measured 25 -> 14 ms per frame (run + a blur in between) with spinning off, 2 cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])

    def run(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(torch.from_numpy(o) for o in session.run(None, {"images": x.numpy()}))

    return run

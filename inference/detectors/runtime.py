"""Ways to run a network built by `inference.tfjs_graph` faster than the interpreter itself.

Both take the interpreter module and an example input of the size the detector will use.
"""
from __future__ import annotations

import io
import warnings
from typing import Callable

import torch

Network = Callable[[torch.Tensor], tuple[torch.Tensor, ...]]


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
        warnings.simplefilter("ignore")  # the TorchScript-based exporter is deprecated, still the one that reads these graphs
        torch.onnx.export(module, (example,), buffer, dynamo=False, input_names=["images"],
                          dynamic_axes={"images": {0: "n"}} if dynamic_batch else None)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])

    def run(x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(torch.from_numpy(o) for o in session.run(None, {"images": x.numpy()}))

    return run

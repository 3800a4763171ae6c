"""ms/frame of the CenterNet detector by input size, torch threads and execution mode.

    .venv/bin/python benchmarks/bench_detector.py [--sizes 512 384 320] [--threads 1 2]
        [--modes eager trace onnxruntime compile compile-freeze] [--seconds 3]

Times the whole `detect()` on one 640x480 BGR frame (resize, network, decoding). Modes:
- eager: the TF.js graph interpreter as is;
- trace: `torch.jit.trace` + `torch.jit.freeze` of the interpreter at that input size (what the
  torch runtime runs);
- compile: `torch.compile` (inductor) of the interpreter;
- onnxruntime: the network's ONNX file run by onnxruntime, numpy in and out, as the default
  worker runs it (the file is exported first when missing: `python -m inference.detectors.export`);
- compile-freeze: the same with `torch._inductor.config.freezing = True` (weights folded into
  the compiled code, convolutions pre-packed for oneDNN).
The compile warm-up (first call, once per process and input size) is reported separately;
set TORCHINDUCTOR_CACHE_DIR to keep compiled code between processes.
Needs the model files (scripts/fetch_models.sh).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from inference.detector import set_threads
from inference.detectors.graph_runtime import TorchNetwork, onnx_export
from inference.detectors.plugins.centernet import CenterNetDetector, centernet_model

FRAME_SIZE = (640, 480)


def _frame() -> np.ndarray:
    path = Path(__file__).resolve().parents[1] / "tests" / "data" / "centernet" / "astronaut_512.png"
    img = cv2.imread(str(path))
    if img is None:  # any frame will do for timing
        img = np.random.default_rng(0).integers(0, 255, (512, 512, 3), dtype=np.uint8)
    return cv2.resize(img, FRAME_SIZE)


class _Wrapped(torch.nn.Module):
    """Gives trace/compile a plain module whose forward returns the two head outputs."""

    def __init__(self, graph: torch.nn.Module) -> None:
        super().__init__()
        self.graph = graph

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        heat, wh = self.graph(x)
        return heat, wh


def _build(size: int, mode: str) -> tuple[CenterNetDetector, float]:
    """A detector whose network runs in `mode`, and the seconds its first call took."""
    if mode == "onnxruntime":
        onnx_export(centernet_model(None, size))  # written once, as make install does
        detector = CenterNetDetector(input_size=size, runtime="onnxruntime")
    else:
        # "trace" is what the torch runtime runs by default (jit=True); "eager" is the bare interpreter.
        detector = CenterNetDetector(input_size=size, jit=mode == "trace")
    if mode in ("compile", "compile-freeze"):
        import torch._inductor.config as inductor_config

        inductor_config.freezing = mode == "compile-freeze"
        # dynamic=False: one static graph per input size (automatic dynamic shapes made the
        # second size compile for many minutes).
        interpreter = detector.network.module  # the torch runtime's TorchNetwork
        detector.network = TorchNetwork(torch.compile(_Wrapped(interpreter).eval(), dynamic=False))
    elif mode not in ("eager", "trace", "onnxruntime"):
        raise SystemExit(f"unknown mode {mode}")
    start = time.perf_counter()
    detector.detect([_frame()])
    return detector, time.perf_counter() - start


def _ms_per_frame(detector: CenterNetDetector, seconds: float) -> tuple[float, float]:
    """Median and best ms per call. The median resists other processes on a shared box."""
    frame = _frame()
    for _ in range(3):
        detector.detect([frame])
    times: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 5:
        t = time.perf_counter()
        detector.detect([frame])
        times.append((time.perf_counter() - t) * 1000)
    return float(np.median(times)), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 384, 320])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--modes", nargs="+", default=["eager", "trace", "onnxruntime", "compile-freeze"])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads available, frame {FRAME_SIZE}")
    print(f"{'mode':14} {'size':>5} {'threads':>7} {'median ms':>9} {'best ms':>8} {'first call s':>12}")
    for mode in args.modes:
        for size in args.sizes:
            for threads in args.threads:
                torch.set_num_threads(threads)
                set_threads(threads)  # onnxruntime's, read when its session is built
                try:
                    detector, first = _build(size, mode)
                    median, best = _ms_per_frame(detector, args.seconds)
                except Exception as exc:  # report and go on with the other modes
                    print(f"{mode:14} {size:>5} {threads:>7} failed: {type(exc).__name__}: {exc}")
                    continue
                print(
                    f"{mode:14} {size:>5} {threads:>7} {median:9.1f} {best:8.1f} {first:12.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()

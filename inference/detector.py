"""The one detector interface every backend implements, and the per-process registry.

A backend takes a batch of BGR uint8 frames (as OpenCV decodes them, any size) and returns,
for each frame, the boxes it found in that frame's own pixel coordinates.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

PERSON = "person"


@dataclass(frozen=True)
class Box:
    x1: float
    y1: float
    x2: float
    y2: float
    score: float  # 0..1, comparable to a camera threshold
    label: str = PERSON

    def as_list(self) -> list[float]:
        return [self.x1, self.y1, self.x2, self.y2]


class Detector(Protocol):
    name: str
    version: str  # recorded on every clip the detector decides

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Box]]:
        """One list of boxes per input frame (BGR uint8, HxWx3)."""
        ...


class DetectorUnavailable(RuntimeError):
    """The configured detector cannot be built (missing weights, bad spec)."""


_FACTORIES: dict[str, Callable[[str], Detector]] = {}
_LOADED: dict[str, Detector] = {}
_LOCK = threading.Lock()


def register(name: str, factory: Callable[[str], Detector]) -> None:
    """Register a backend. The factory receives the text after `name:` (or "")."""
    _FACTORIES[name] = factory


def load_detector(spec: str) -> Detector:
    """The detector for a spec such as "hog" or "torchscript:/models/x.pt", built once per process."""
    with _LOCK:
        if spec not in _LOADED:
            name, _, arg = spec.partition(":")
            _import_builtin_backends(name)
            factory = _FACTORIES.get(name)
            if factory is None:
                known = ", ".join(sorted(_FACTORIES))
                raise DetectorUnavailable(f"unknown detector {name!r} (known: {known})")
            _LOADED[spec] = factory(arg)
        return _LOADED[spec]


BUILTIN = ("hog", "centernet", "nanodet", "torchscript", "onnx")


def _import_builtin_backends(name: str) -> None:
    # Only the backend asked for is imported (a backend registers itself when imported), so a
    # process using HOG never pays for importing torch. HOG is always there to list as known.
    importlib.import_module("inference.detectors.hog")
    if name in BUILTIN:
        importlib.import_module(f"inference.detectors.{name}")

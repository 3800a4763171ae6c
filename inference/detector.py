"""The one detector interface every backend implements, and the per-process registry.

A backend takes a batch of BGR uint8 frames (as OpenCV decodes them, any size) and returns,
for each frame, the boxes it found in that frame's own pixel coordinates.

Backends are plugins, as Frigate's: each module of `inference.detectors.plugins` defines a class
decorated with `@register`, found under its `name`, the first word of a DETECTOR spec
("centernet:320:onnxruntime" -> `centernet`, built from "320:onnxruntime"). The registry imports
every module of that package (pkgutil) and names none of them; the plugins never import each
other (what two share lives in `inference.detectors`). A plugin module must stay cheap to import:
it imports its runtime (torch, onnxruntime) when a detector is built, so listing the plugins, or
running one, costs no other plugin's runtime.
"""

from __future__ import annotations

import importlib
import pkgutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

PERSON = "person"
PLUGINS = "inference.detectors.plugins"


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


class Plugin(Protocol):
    """A detector class as the registry sees it. It may also define `export(arg) -> list[Path]`,
    writing ahead of time the files a spec runs from (see `export_detector`)."""

    name: str

    @classmethod
    def from_spec(cls, arg: str) -> Detector:
        """The detector for the text after "<name>:" in a spec ("" when there is none)."""
        ...


class DetectorUnavailable(RuntimeError):
    """The configured detector cannot be built (missing weights, bad spec)."""


P = TypeVar("P", bound=type)
_PLUGINS: dict[str, type[Plugin]] = {}
_LOADED: dict[str, Detector] = {}
_LOCK = threading.Lock()
_threads = 0


def register(plugin: P) -> P:
    """Class decorator: a plugin registers itself under its `name`."""
    _PLUGINS[plugin.name] = plugin
    return plugin


def plugins() -> dict[str, type[Plugin]]:
    """Every plugin, by name. The first call imports every module of the plugins package."""
    package = importlib.import_module(PLUGINS)
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{PLUGINS}.{module.name}")  # a no-op after the first time
    return dict(_PLUGINS)


def _plugin(name: str) -> type[Plugin]:
    known = plugins()
    if name not in known:
        raise DetectorUnavailable(f"unknown detector {name!r} (known: {', '.join(sorted(known))})")
    return known[name]


def load_detector(spec: str) -> Detector:
    """The detector for a spec such as "hog" or "torchscript:/models/x.pt", built once per process."""
    with _LOCK:
        if spec not in _LOADED:
            name, _, arg = spec.partition(":")
            _LOADED[spec] = _plugin(name).from_spec(arg)
        return _LOADED[spec]


def export_detector(spec: str) -> list[Path]:
    """Write the files `spec` runs from that are made ahead of time rather than at each process
    start (the ONNX file of an onnxruntime spec), unless they are there. Their paths; none when
    the detector runs from its own files."""
    name, _, arg = spec.partition(":")
    export = getattr(_plugin(name), "export", None)
    return export(arg) if export is not None else []


def set_threads(threads: int) -> None:
    """Threads each detector runtime (torch, onnxruntime) of this process may use; 0: their own
    default (one per core). Call before the detector is built: runtimes size themselves then."""
    global _threads
    _threads = threads


def threads() -> int:
    return _threads

"""A fine-tuned detector from the MLflow registry (inference/training, issue #15):
`DETECTOR=models:/vigia-detector/3` (a fixed version) or `models:/vigia-detector@production`.

The registered model is a contract ONNX file (inference/detectors/contract.py) with its input
contract (the input size) beside it, run with onnxruntime. The store is `$MLFLOW_TRACKING_URI`
(default `sqlite:///var/mlflow/mlflow.db`). An alias is resolved again every
`$DETECTOR_ALIAS_REFRESH_SECONDS` (300) while the worker runs: a newly promoted version is
downloaded and swapped in without a restart, and `version` ("vigia-detector/4") names the one
that ran, which the worker records on the clip (`model_version`). If the store cannot be reached
at a refresh, the loaded version keeps running.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence

import numpy as np

from inference.detector import Box, DetectorUnavailable, register, threads
from inference.detectors.contract import outputs_to_boxes, to_input

log = logging.getLogger(__name__)
DEFAULT_REFRESH_SECONDS = 300.0


class _Loaded:
    def __init__(self, path, version: str, input_size: int) -> None:
        import onnxruntime as ort  # here: importing the plugin must not cost its runtime

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name
        self.version, self.input_size = version, input_size


@register
class RegistryDetector:
    name = "models"

    def __init__(self, ref: str, *, tracking_uri: str, refresh_seconds: float) -> None:
        self.ref = ref
        self.model_name = ref.split("@")[0].split("/")[0]
        self.tracking_uri = tracking_uri
        self.follows_alias = "@" in ref
        self.refresh_seconds = refresh_seconds
        self._lock = threading.Lock()
        self._loaded = self._load()
        self._checked = time.monotonic()

    @classmethod
    def from_spec(cls, arg: str) -> RegistryDetector:
        """Spec "models:/<name>/<version>" or "models:/<name>@<alias>"."""
        from inference.training.registry import tracking_uri_default

        ref = arg.lstrip("/")
        if not ref or ("@" not in ref and "/" not in ref):
            raise DetectorUnavailable(f"models: give models:/NAME/VERSION or models:/NAME@ALIAS, not {arg!r}")
        refresh = float(os.environ.get("DETECTOR_ALIAS_REFRESH_SECONDS") or DEFAULT_REFRESH_SECONDS)
        return cls(ref, tracking_uri=tracking_uri_default(), refresh_seconds=refresh)

    def _load(self) -> _Loaded:
        from inference.training import registry

        try:
            path, version, size = registry.fetch(registry.client(self.tracking_uri), self.ref)
            return _Loaded(path, version, size)
        except Exception as exc:
            raise DetectorUnavailable(f"models:/{self.ref} in {self.tracking_uri}: {exc}") from exc

    @property
    def version(self) -> str:
        return f"{self.model_name}/{self._loaded.version}"

    def refresh(self) -> bool:
        """Follow the alias now: True when another version was swapped in."""
        from inference.training import registry

        self._checked = time.monotonic()
        try:
            current = str(registry.resolve(registry.client(self.tracking_uri), self.ref).version)
            if current == self._loaded.version:
                return False
            loaded = self._load()
        except Exception as exc:  # the store is down: keep running what is loaded
            log.warning("models:/%s: alias not refreshed (%s); still running %s", self.ref, exc, self.version)
            return False
        with self._lock:
            old, self._loaded = self._loaded.version, loaded
        log.info("models:/%s: now version %s (was %s)", self.ref, loaded.version, old)
        return True

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Box]]:
        if self.follows_alias and time.monotonic() - self._checked >= self.refresh_seconds:
            self.refresh()
        if not frames:
            return []
        loaded = self._loaded
        (output, *_rest) = loaded.session.run(None, {loaded.input: to_input(frames, loaded.input_size)})
        return outputs_to_boxes(list(np.asarray(output, dtype=np.float32)), frames, loaded.input_size)

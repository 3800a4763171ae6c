"""MLflow for the detector: the training run (parameters, the export's manifest as the run's
dataset input, loss and held-out metrics per epoch, the contract ONNX file and its input
contract), the `vigia-detector` registry and its `production` alias.

Same store as the verifier's (`inference.tracking`: `sqlite:///<path>` local store, artifacts
beside it, or a tracking server); mlflow-skinny with SQLAlchemy runs the SQLite store and the
registry. mlflow is imported lazily.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from inference import tracking

EXPERIMENT = "vigia-detector"
MODEL_NAME = "vigia-detector"
PRODUCTION = "production"
MODEL_ARTIFACT = "model"
MODEL_FILE = "model.onnx"
CONTRACT_FILE = "input_contract.json"
PREVIOUS_TAG = "previous_production"
DEFAULT_TRACKING_URI = "sqlite:///var/mlflow/mlflow.db"  # the Django setting's default, from the project folder


def tracking_uri_default() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def client(tracking_uri: str):
    return tracking.client(tracking_uri)


def experiment_id(c, tracking_uri: str) -> str:
    existing = c.get_experiment_by_name(EXPERIMENT)
    if existing is not None:
        return existing.experiment_id
    root = tracking._local_root(tracking_uri)
    location = str((root / "artifacts").resolve()) if root is not None else None
    return c.create_experiment(EXPERIMENT, artifact_location=location)


def input_contract(input_size: int) -> dict:
    return {
        "format": "onnx",
        "input": {"name": "images", "dtype": "float32", "shape": ["N", 3, input_size, input_size]},
        "pixels": "RGB, 0..1, each frame stretched to SxS (inference/detectors/contract.py)",
        "output": {"shape": ["N", "K", 6], "rows": "x1, y1, x2, y2 (input pixels), score 0..1, class 0 = person"},
        "input_size": input_size,
    }


def start_run(c, tracking_uri: str, *, params: dict, tags: dict, parent: str | None = None) -> str:
    run_tags = dict(tags)
    if parent:
        run_tags["mlflow.parentRunId"] = parent
    run = c.create_run(experiment_id(c, tracking_uri), tags=run_tags)
    for key, value in params.items():
        c.log_param(run.info.run_id, key, value)
    return run.info.run_id


def log_dataset(c, run_id: str, *, name: str, digest: str, source: str, profile: dict) -> None:
    """The export's manifest as the run's dataset input (MLflow's dataset tracking)."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    dataset = Dataset(
        name=name,
        digest=digest[:36],
        source_type="local" if not source.startswith("s3://") else "s3",
        source=json.dumps({"uri": source}),
        schema=json.dumps({"manifest": "labeling/export writers.py manifest.jsonl"}),
        profile=json.dumps(profile),
    )
    c.log_inputs(run_id, datasets=[DatasetInput(dataset, [InputTag("mlflow.data.context", "training")])])


def log_metrics(c, run_id: str, metrics: dict[str, Any], step: int | None = None) -> None:
    for key, value in metrics.items():
        if isinstance(value, (int, float)) and value is not None:
            c.log_metric(run_id, key, float(value), step=step or 0)


def log_model(c, run_id: str, onnx_file: Path, input_size: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / MODEL_ARTIFACT
        folder.mkdir()
        shutil.copy(onnx_file, folder / MODEL_FILE)
        (folder / CONTRACT_FILE).write_text(json.dumps(input_contract(input_size), indent=2))
        c.log_artifacts(run_id, str(folder), MODEL_ARTIFACT)


def register(c, run_id: str) -> str:
    try:
        c.get_registered_model(MODEL_NAME)
    except Exception:
        c.create_registered_model(MODEL_NAME, description="CenterNet fine-tuned on reviewed clips (Vigia issue #15)")
    return str(c.create_model_version(MODEL_NAME, source=f"runs:/{run_id}/{MODEL_ARTIFACT}", run_id=run_id).version)


def production_version(c) -> str | None:
    try:
        return str(c.get_model_version_by_alias(MODEL_NAME, PRODUCTION).version)
    except Exception:
        return None


def resolve(c, ref: str):
    """A model version from "vigia-detector/3" or "vigia-detector@production"."""
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return c.get_model_version_by_alias(name, alias)
    name, _, number = ref.partition("/")
    return c.get_model_version(name, number)


def promote(c, version: str, *, reason: str) -> str | None:
    """Point `production` at `version`; the version it pointed at is kept for a rollback."""
    previous = production_version(c)
    c.set_registered_model_alias(MODEL_NAME, PRODUCTION, version)
    if previous and previous != version:
        c.set_model_version_tag(MODEL_NAME, version, PREVIOUS_TAG, previous)
    c.set_model_version_tag(MODEL_NAME, version, "promotion", "promoted")
    c.set_model_version_tag(MODEL_NAME, version, "promotion_reason", reason)
    return previous


def rollback(c) -> tuple[str, str]:
    """Back to the version production pointed at before the current one: (from, to)."""
    current = production_version(c)
    if not current:
        raise LookupError("no production version to roll back from")
    previous = c.get_model_version(MODEL_NAME, current).tags.get(PREVIOUS_TAG)
    if not previous:
        raise LookupError(f"version {current} records no previous production version")
    c.set_registered_model_alias(MODEL_NAME, PRODUCTION, previous)
    c.set_model_version_tag(MODEL_NAME, current, "promotion", "rolled back")
    return current, previous


def record_decision(c, run_id: str, version: str, *, promoted: bool, reason: str, evidence: dict) -> None:
    decision = "promoted" if promoted else "refused"
    c.set_tag(run_id, "promotion", decision)
    c.set_tag(run_id, "promotion_reason", reason[:4000])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "promotion.json"
        path.write_text(json.dumps({"decision": decision, "reason": reason, **evidence}, indent=2, default=str))
        c.log_artifact(run_id, str(path))
    c.set_model_version_tag(MODEL_NAME, version, "promotion", decision)
    c.set_model_version_tag(MODEL_NAME, version, "promotion_reason", reason[:4000])


def fetch(c, ref: str) -> tuple[Path, str, int]:
    """The ONNX file of a registered version, downloaded once per version: (file, version, size)."""
    mv = resolve(c, ref)
    dst = Path(tempfile.gettempdir()) / "vigia-detector" / f"{mv.name}-{mv.version}-{mv.run_id}"
    if not (dst / MODEL_ARTIFACT / MODEL_FILE).is_file():
        dst.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=dst.name + ".", dir=dst.parent))
        c.download_artifacts(mv.run_id, MODEL_ARTIFACT, dst_path=str(staging))
        try:
            staging.rename(dst)  # two workers fetching together: the loser uses the winner's copy
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    contract = json.loads((dst / MODEL_ARTIFACT / CONTRACT_FILE).read_text())
    return dst / MODEL_ARTIFACT / MODEL_FILE, str(mv.version), int(contract["input_size"])

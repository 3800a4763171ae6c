"""MLflow, the one outside system of training: runs (parameters, metrics, the model, the data it
came from) and the model registry (versions, the alias the pipeline follows).

The tracking URI is `sqlite:///<path>` for the local store (artifacts in `artifacts/` beside the
database file) or the URL of a tracking server. mlflow is imported lazily: a worker that only runs
a verifier from a file never pays for it.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXPERIMENT = "vigia-verifier"
MODEL_NAME = "vigia-verifier"
PRODUCTION = "production"  # the registry alias the pipeline's VERIFIER=models:/vigia-verifier@production follows
MODEL_ARTIFACT = "model"
MODEL_FILE = "verifier.pt"


class TrackingError(RuntimeError):
    """MLflow refused or could not be reached. Retrying helps only if the server was down."""


def _local_root(tracking_uri: str) -> Path | None:
    if tracking_uri.startswith("sqlite:///"):
        return Path(tracking_uri[len("sqlite:///") :]).parent
    return None


def client(tracking_uri: str):
    from mlflow import MlflowClient

    root = _local_root(tracking_uri)
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def _experiment_id(c, tracking_uri: str) -> str:
    existing = c.get_experiment_by_name(EXPERIMENT)
    if existing is not None:
        return existing.experiment_id
    root = _local_root(tracking_uri)
    # Without an explicit location a local store would put artifacts in ./mlruns of whatever
    # directory the command ran from.
    location = str((root / "artifacts").resolve()) if root is not None else None
    return c.create_experiment(EXPERIMENT, artifact_location=location)


@dataclass
class LoggedRun:
    run_id: str
    version: str  # the registered model version


def log_training_run(
    *,
    tracking_uri: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    model_file: Path,
    data_files: list[Path],
    tags: dict[str, str] | None = None,
    register: bool = True,
) -> LoggedRun:
    """One run with everything needed to reproduce or audit it, and the model registered."""
    try:
        c = client(tracking_uri)
        run = c.create_run(_experiment_id(c, tracking_uri), tags=tags or {})
        run_id = run.info.run_id
        try:
            for key, value in params.items():
                c.log_param(run_id, key, value)
            for key, value in metrics.items():
                if value is not None:
                    c.log_metric(run_id, key, float(value))
            c.log_artifact(run_id, str(model_file), MODEL_ARTIFACT)
            for data in data_files:
                c.log_artifact(run_id, str(data), "data")
        except BaseException:
            c.set_terminated(run_id, status="FAILED")
            raise
        c.set_terminated(run_id)
        version = ""
        if register:
            try:
                c.get_registered_model(MODEL_NAME)
            except Exception:
                c.create_registered_model(
                    MODEL_NAME, description="Person vs. not-person on detector crops (Vigia issue #6)"
                )
            mv = c.create_model_version(MODEL_NAME, source=f"runs:/{run_id}/{MODEL_ARTIFACT}", run_id=run_id)
            version = str(mv.version)
        return LoggedRun(run_id, version)
    except Exception as exc:
        raise TrackingError(f"MLflow at {tracking_uri}: {exc}") from exc


def record_decision(
    *, tracking_uri: str, run_id: str, version: str, promote: bool, reason: str, evidence: dict
) -> None:
    """Write the promotion decision on the run and the model version; move the alias if promoted."""
    c = client(tracking_uri)
    decision = "promoted" if promote else "refused"
    c.set_tag(run_id, "promotion", decision)
    c.set_tag(run_id, "promotion_reason", reason)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "promotion.json"
        path.write_text(json.dumps({"decision": decision, "reason": reason, **evidence}, indent=2, default=str))
        c.log_artifact(run_id, str(path))
    if version:
        c.set_model_version_tag(MODEL_NAME, version, "promotion", decision)
        c.set_model_version_tag(MODEL_NAME, version, "promotion_reason", reason)
        if promote:
            c.set_registered_model_alias(MODEL_NAME, PRODUCTION, version)


def production_version(*, tracking_uri: str) -> str | None:
    """The version the production alias points to, or None."""
    c = client(tracking_uri)
    try:
        return str(c.get_model_version_by_alias(MODEL_NAME, PRODUCTION).version)
    except Exception:
        return None


def fetch_model(spec: str, *, tracking_uri: str, dst: Path | None = None) -> tuple[Path, str]:
    """`models:/NAME/VERSION` or `models:/NAME@ALIAS` -> (local model file, "NAME/VERSION")."""
    ref = spec[len("models:/") :]
    c = client(tracking_uri)
    if "@" in ref:
        name, alias = ref.split("@", 1)
        mv = c.get_model_version_by_alias(name, alias)
    else:
        name, _, number = ref.partition("/")
        mv = c.get_model_version(name, number)
    # One folder per registered version, named by its run id (unique across stores, unlike the
    # version number): a version never changes, so a worker restart reuses the download.
    dst = Path(dst or Path(tempfile.gettempdir()) / "vigia-verifier" / f"{name}-{mv.version}-{mv.run_id}")
    model = dst / MODEL_ARTIFACT / MODEL_FILE
    if not model.is_file():
        # Downloaded beside it and renamed into place: two workers starting together never read
        # a half-written file; the loser of the rename uses the winner's copy.
        dst.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=dst.name + ".", dir=dst.parent))
        c.download_artifacts(mv.run_id, MODEL_ARTIFACT, dst_path=str(staging))
        try:
            staging.rename(dst)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    return model, f"{name}/{mv.version}"

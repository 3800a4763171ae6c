"""Training the detector from an export: `detector_train(...)` is what `manage.py train_detector`
and the weekly job run.

    the export: the one asked for, else the newest done export, else a fresh export of the
        reviewed clips (the same selection: positives, hard and plain negatives) made here;
    the held-out clips: the reviewed clips (reviewapp.tuning.verifier_training.reviewed_labels_write)
        of the held-out cameras (given, else the export's val/test cameras), as a labels CSV;
    then inference.training.pipeline: train, log, register, gate, promote.
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from inference.detector import DetectorUnavailable
from inference.detectors.plugins.centernet import centernet_model_path
from inference.tracking import TrackingError
from inference.training import pipeline
from inference.training.data import TrainingDataError
from inference.training.trainer import TrainConfig
from labeling.export import service as export
from labeling.export import storage
from labeling.models import ExportRun
from reviewapp.core.errors import ApplicationError
from reviewapp.review.models import Camera
from reviewapp.tuning.verifier_training import reviewed_labels_write

log = logging.getLogger(__name__)


def export_folder(export_id: int | None) -> tuple[Path, str]:
    """(local folder, location) of the export to train on."""
    runs = ExportRun.objects.filter(status=ExportRun.Status.DONE)
    run = runs.filter(id=export_id).first() if export_id is not None else runs.order_by("-finished_at", "-id").first()
    if export_id is not None and run is None:
        raise ApplicationError(f"no finished export with id {export_id}", code="not_found")
    if run is None:
        run = export.export_request(options={}, trigger="training", enqueue=False)
        run = export.export_execute(export_id=run.id) or ExportRun.objects.get(id=run.id)
        if run.status != ExportRun.Status.DONE:
            raise ApplicationError(f"the export made for training failed: {run.error}", code="export_failed")
    if run.location.startswith("s3://"):
        return _downloaded(run.location, Path(settings.DETECTOR_TRAINING_DIR) / "exports" / run.name), run.location
    return Path(run.location), run.location


def _downloaded(location: str, folder: Path) -> Path:
    """A local copy of a published S3 export (its manifest and images), made once: the copy's
    own marker is written last, so a cut download is done again, never used half."""
    if (folder / storage.COMPLETE_MARKER).is_file():
        return folder
    target = storage.parse(location)
    try:
        for key in target.keys_under_prefix(""):
            rel = key[len(target.prefix) :].lstrip("/")
            if ".." in rel.split("/"):
                continue  # never outside the folder
            if rel == "manifest.jsonl" or rel.startswith("images/"):
                (folder / rel).parent.mkdir(parents=True, exist_ok=True)
                storage._s3().download_file(target.bucket, key, str(folder / rel))
    except Exception as exc:  # boto3's errors, or a full disk
        raise ApplicationError(f"cannot download the export {location}: {exc}", code="unavailable") from exc
    (folder / storage.COMPLETE_MARKER).write_text(location)
    return folder


def detector_train(
    *,
    export_id: int | None = None,
    holdout: list[str] | None = None,
    epochs: int | None = None,
    seed: int = 0,
    sweep: str = "",
    promote: bool = True,
    heldout_labels: Path | None = None,
    trigger: str = "command",
) -> dict:
    """Train, register and gate a detector; the summary train_detector prints last."""
    folder, location = export_folder(export_id)
    if heldout_labels is None:
        out = Path(settings.DETECTOR_TRAINING_DIR) / f"{timezone.now():%Y%m%d-%H%M%S}-heldout"
        heldout_labels, _rows = reviewed_labels_write(out=out)
    config = TrainConfig(
        input_size=settings.DETECTOR_TRAINING_INPUT_SIZE,
        epochs=epochs or settings.DETECTOR_TRAINING_EPOCHS,
        lr=settings.DETECTOR_TRAINING_LR,
        seed=seed,
        threshold=settings.DEFAULT_THRESHOLD,
    )
    job = pipeline.Job(
        export_dir=folder,
        model_json=centernet_model_path(),
        config=config,
        heldout_labels=heldout_labels,
        holdout=holdout,
        base_detector=settings.DETECTOR,
        tracking_uri=settings.MLFLOW_TRACKING_URI,
        promote=promote,
        sweep=sweep,
        source=location,
        tags={"vigia.trigger": trigger},
        thresholds=dict(Camera.objects.values_list("name", "threshold")),
    )
    try:
        summary = pipeline.run(job)
    except (TrainingDataError, ValueError) as exc:
        raise ApplicationError(str(exc), code="bad_training_data") from exc
    except (DetectorUnavailable, TrackingError) as exc:  # the production model or the store
        raise ApplicationError(str(exc), code="unavailable") from exc
    log.info(
        "detector %s: %s (%s)", summary["model_uri"], "promoted" if summary["promoted"] else "kept", summary["reason"]
    )
    return summary

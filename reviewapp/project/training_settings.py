"""Detector training's settings (#15), star-imported by settings.py (the table of every variable
is docs/operations.md). DETECTOR=models:/vigia-detector@production (or /N) runs a fine-tuned
version from the registry at MLFLOW_TRACKING_URI; this is how it is trained and refreshed."""

from pathlib import Path

import environ

_env = environ.Env()
_VAR_DIR = Path(__file__).resolve().parents[2] / "var"

# How often a worker asks the registry which version the alias points at.
DETECTOR_ALIAS_REFRESH_SECONDS = _env.float("DETECTOR_ALIAS_REFRESH_SECONDS", default=300.0)
DETECTOR_TRAINING_DIR = Path(_env.str("DETECTOR_TRAINING_DIR", default=str(_VAR_DIR / "training")))
DETECTOR_TRAINING_INPUT_SIZE = _env.int("DETECTOR_TRAINING_INPUT_SIZE", default=320)
DETECTOR_TRAINING_EPOCHS = _env.int("DETECTOR_TRAINING_EPOCHS", default=3)
DETECTOR_TRAINING_LR = _env.float("DETECTOR_TRAINING_LR", default=1e-4)
DETECTOR_TRAINING_TIME_LIMIT = _env.int("DETECTOR_TRAINING_TIME_LIMIT", default=6 * 3600)
# The weekly job (Tuesdays 04:00, after Monday's export): off unless set.
DETECTOR_TRAINING_SCHEDULE = _env.bool("DETECTOR_TRAINING_SCHEDULE", default=False)

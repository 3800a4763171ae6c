"""Defaults shared by the Django settings and the command-line tools, so that the evaluation and
replay tools process clips exactly as the worker does. Each can be overridden by the same
environment variable in both places."""
import os

SAMPLE_FPS = 2.0
DETECTOR = "hog"
THRESHOLD = 0.5
DETECT_BATCH = 8


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a number")

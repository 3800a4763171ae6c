"""What a process carries from the start. Every gunicorn worker, beat and `manage.py` call loads
the Django project; a library imported on that path costs every one of them seconds and hundreds of
MB (torch alone ~2.5 s and ~230 MB). The heavy libraries are imported where a request or a task
needs them, at the module that uses them. Each check runs in a fresh interpreter: this test
process has imported everything already."""

import json
import subprocess
import sys

from benchmarks.bench_startup import ROOT, web_app

HEAVY = ("torch", "onnxruntime", "albumentations", "label_studio_sdk", "pandas", "mlflow", "matplotlib", "scipy")


def modules_after(code: str) -> set[str]:
    """The top-level packages in sys.modules after `code` ran in a fresh interpreter."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_the_web_app_loads_none_of_the_heavy_libraries():
    loaded = modules_after(web_app())
    assert "django" in loaded and "reviewapp" in loaded and "labeling" in loaded  # the app was loaded
    assert sorted(loaded & set(HEAVY)) == []


WORKER = """
import os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.project.settings")
import numpy as np
from reviewapp.project.celery import app
app.loader.import_default_modules()  # every feature's tasks, as a worker imports them
from django.conf import settings
from inference.defaults import DETECTOR
from inference.detector import load_detector
from reviewapp.review import tasks
assert settings.DETECTOR == DETECTOR, "run with the default DETECTOR"
tasks.load_model()  # what worker_process_init does
load_detector(settings.DETECTOR).detect([np.zeros((480, 640, 3), np.uint8)])
"""


def test_the_default_inference_worker_runs_onnxruntime_without_torch(monkeypatch):
    monkeypatch.delenv("DETECTOR", raising=False)
    loaded = modules_after(WORKER)
    assert "onnxruntime" in loaded  # the detector ran
    assert sorted(loaded & set(HEAVY) - {"onnxruntime"}) == []

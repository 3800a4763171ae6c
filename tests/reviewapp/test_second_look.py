"""The second look in the worker (SECOND_LOOK, inference/second_look.py) with the real detectors:
CenterNet 320 first, CenterNet 512 on the deciding frames of a clip in the camera's review band,
on camera-like footage (tests/scenes.py). The threshold that makes the second look matter is
chosen from the scores measured here, between the two passes' scores of the same clip."""

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone

from inference import replay
from inference.detector import export_detector
from inference.detectors.human_models import PACKAGE_DIR, default_model_dir
from reviewapp.review import ingest, processing
from reviewapp.review.models import Clip
from tests import scenes
from tests.conftest import api_client
from tests.factories import CameraFactory

SPEC = "centernet:512:onnxruntime"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """A model folder of these tests' own (the real one's files linked), where the 512 file is exported."""
    real = default_model_dir()
    root = tmp_path_factory.mktemp("models")
    (root / PACKAGE_DIR).symlink_to((real / PACKAGE_DIR).resolve(), target_is_directory=True)
    (root / "onnx").mkdir()
    for f in (real / "onnx").glob("*.onnx"):
        (root / "onnx" / f.name).symlink_to(f.resolve())
    return root


@pytest.fixture
def second_look_on(settings, monkeypatch, model_dir):
    monkeypatch.setenv("VIGIA_MODEL_DIR", str(model_dir))
    export_detector(SPEC)  # seconds, once: the worker's image build does it for a configured spec
    settings.SECOND_LOOK, settings.SECOND_LOOK_FRAMES = SPEC, 3
    return settings


@pytest.fixture(scope="module")
def crossing(tmp_path_factory):
    """A person crossing the still view: 0.337 at 320, 0.281 at 512 on the deciding frames."""
    return scenes.write_minute_clip(tmp_path_factory.mktemp("footage") / "crossing.mp4", 8, person="crossing")


def process(camera, path) -> Clip:
    clip, created = ingest.clip_ingest(camera=camera, path=str(path), recorded_at=timezone.now() - timedelta(minutes=5))
    assert created
    processing.clip_process(clip_id=clip.id)
    clip.refresh_from_db()
    assert clip.status == Clip.Status.DONE, clip.error
    return clip


def camera(world, threshold, band):
    return CameraFactory(customer=world.acme, threshold=threshold, review_band=band)


def measured(world, settings, path) -> tuple[float, float]:
    """(first-pass score, second-look score) of the clip, on a camera whose band covers everything."""
    clip = process(camera(world, 0.25, 1.0), path)
    assert clip.second_look.endswith("512") and clip.first_score is not None
    assert abs(clip.first_score - clip.score) > 0.02, "the two passes must differ for this test to mean anything"
    return clip.first_score, clip.score


def test_it_changes_a_near_threshold_decision_and_records_it(world, second_look_on, crossing):
    first, second = measured(world, second_look_on, crossing)
    threshold, band = round((first + second) / 2, 4), abs(first - second)  # between the two; the first in the band
    cam = camera(world, threshold, band)
    clip = process(cam, crossing)
    assert clip.first_score == pytest.approx(first) and clip.score == pytest.approx(second)
    assert clip.first_alert == (first >= threshold) and clip.alert == (second >= threshold)
    assert clip.alert != clip.first_alert, "the second look took the decision"
    assert clip.second_look_ms > 0
    best = clip.detections.filter(suppressed_by__isnull=True).order_by("-score").first()
    assert best.score == pytest.approx(clip.score), "the kept deciding box is the second look's"

    reviewer = Client()
    reviewer.force_login(world.reviewer)
    page = reviewer.get(f"/clips/{clip.id}/").content.decode()
    assert 'id="second-look"' in page and f"first pass {first:.3f}" in page
    body = api_client(world.reviewer).get(f"/api/v1/clips/{clip.id}/").json()
    looked = body["second_look"]
    assert looked["first_score"] == pytest.approx(first) and looked["detector"].endswith("512")
    customer = Client()
    customer.force_login(world.customer_a)
    page = customer.get(f"/clips/{clip.id}/")
    assert page.status_code == 200 and "second-look" not in page.content.decode().lower()
    body = api_client(world.customer_a).get(f"/api/v1/clips/{clip.id}/").json()
    assert "second_look" not in body and "first_score" not in json.dumps(body)


def test_a_clip_outside_the_band_gets_no_second_look(world, second_look_on, crossing):
    first, second = measured(world, second_look_on, crossing)
    threshold = round((first + second) / 2, 4)
    clip = process(camera(world, threshold, abs(first - threshold) / 2), crossing)  # the band stops short of it
    assert clip.second_look == "" and clip.first_score is None and clip.second_look_ms is None
    assert clip.score == pytest.approx(first) and clip.alert == (first >= threshold)


def test_with_the_setting_off_nothing_changes(world, second_look_on, crossing):
    first, second = measured(world, second_look_on, crossing)
    threshold, band = round((first + second) / 2, 4), abs(first - second)
    second_look_on.SECOND_LOOK = ""
    clip = process(camera(world, threshold, band), crossing)
    assert clip.second_look == "" and clip.first_score is None
    assert clip.score == pytest.approx(first) and clip.alert == (first >= threshold), "the first pass decides"


def test_the_replay_with_the_same_flag_decides_as_the_worker(world, second_look_on, crossing, tmp_path, capsys):
    first, second = measured(world, second_look_on, crossing)
    threshold, band = round((first + second) / 2, 4), abs(first - second)
    worker = process(camera(world, threshold, band), crossing)
    labels = tmp_path / "labels.csv"
    labels.write_text(f"clip_file,person,camera,recorded_at\n{crossing},1,lawn,2026-12-01T08:00:00+00:00\n")
    common = [str(labels), "--threshold", str(threshold), "--review-band", str(band), "--strategies", "threshold"]

    def alerted(*extra) -> tuple[bool, dict]:
        capsys.readouterr()
        assert replay.main([*common, *extra]) == 0
        line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        return line["strategies"]["threshold"]["tp"] == 1, line

    again, line = alerted("--second-look", SPEC)
    assert again == worker.alert and line["second_looks"] == {"threshold": 1}
    without, _ = alerted("--second-look", "")
    assert without == worker.first_alert != worker.alert


@pytest.mark.parametrize(
    "spec, message",
    [
        ("nosuch:512", "unknown detector 'nosuch'"),
        ("tiles:9:centernet:320:onnxruntime", "tiles:N:DETECTOR with N from 2 to 4"),
    ],
)
def test_a_bad_spec_stops_the_start_with_a_clear_error(spec, message):
    env = {**os.environ, "SECOND_LOOK": spec, "DJANGO_SETTINGS_MODULE": "reviewapp.project.settings"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode != 0
    assert "ImproperlyConfigured" in proc.stderr and f"SECOND_LOOK={spec!r}" in proc.stderr and message in proc.stderr

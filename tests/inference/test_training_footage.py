"""The footage training set of benchmarks/bench_training.py: its boxes are where the people are
(the base detector finds each labelled person there), and its false boxes are the reviewed
minute's alerting objects."""

from __future__ import annotations

import pytest

from inference.detector import load_detector
from inference.training import data
from inference.training.targets import iou
from tests.inference import training_footage


@pytest.fixture(scope="module")
def detector():
    return load_detector("centernet:320:onnxruntime")


def test_export_boxes_are_where_the_detector_sees_people(tmp_path, detector):
    samples = data.read_export(training_footage.write_export(tmp_path, detector))
    train, held = data.split_by_camera(samples, None)
    assert {s.camera for s in held} == {training_footage.TRAIN_CAMERA, *training_footage.HELDOUT_CAMERAS}
    assert [s.klass for s in train].count("hard_negative") == len(training_footage.REVIEWED_FRAMES)
    for s in samples:
        boxes = detector.detect([s.image()])[0]
        for box in s.boxes:  # each labelled person: a detection on it at the camera threshold
            assert any(iou(b.as_list(), box) >= 0.3 and b.score >= training_footage.THRESHOLD for b in boxes), s.clip
        if s.klass == "hard_negative":  # the reviewed false alert: something alerting at the threshold
            assert max(b.score for b in boxes) >= training_footage.THRESHOLD
            assert s.false_boxes and not s.boxes

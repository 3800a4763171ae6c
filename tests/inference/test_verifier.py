import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from inference import suppression, tracking, verifier
from inference.detector import Box
from inference.thresholds import Counts
from reviewapp.review.demo import photo


def person_and_not(n=12, seed=0):
    """Colour crops of the astronaut (person) and sepia crops of the coffee photo (not), jittered."""
    rng = np.random.default_rng(seed)
    astronaut, coffee = photo("astronaut"), photo("coffee")

    def sepia(im):
        return np.clip(cv2.cvtColor(im, cv2.COLOR_BGR2GRAY)[..., None] * np.array([0.6, 0.8, 1.1]), 0, 255).astype(
            np.uint8
        )

    crops, labels = [], []
    for _i in range(n):
        dx, dy = rng.integers(0, 60, 2)
        crops.append(verifier.crop(astronaut, (60 + dx, 20 + dy, 420 + dx, 480 + dy)))
        labels.append(1)
        crops.append(verifier.crop(sepia(coffee), (100 + dx, 50 + dy, 300 + dx, 400 + dy)))
        labels.append(0)
    return np.stack(crops), np.array(labels)


def test_crop_is_square_and_safe_at_and_beyond_the_edges():
    image = np.zeros((480, 640, 3), np.uint8)
    for b in [(0, 0, 640, 480), (-30, -10, 40, 50), (600, 440, 700, 520), (10, 10, 10.2, 10.1), Box(5, 5, 50, 90, 0.5)]:
        assert verifier.crop(image, b).shape == (verifier.CROP_SIZE, verifier.CROP_SIZE, 3)


def test_training_on_a_tiny_set_separates_the_classes_and_keeps_the_people():
    crops, labels = person_and_not()
    result = verifier.train(crops, labels, epochs=12, seed=1)
    scores = verifier.predict(result.model, crops)
    assert (scores[labels == 1] >= result.threshold).all()  # the threshold keeps the training people
    assert result.threshold <= 0.5
    assert scores[labels == 1].mean() > scores[labels == 0].mean()
    assert len(result.losses) == 12


def test_too_few_examples_of_a_class_is_refused():
    crops, labels = person_and_not(n=12)
    keep = np.r_[np.where(labels == 1)[0], np.where(labels == 0)[0][:3]]
    with pytest.raises(ValueError, match="too few examples"):
        verifier.train(crops[keep], labels[keep], epochs=1)


def test_a_saved_model_loads_with_its_threshold_and_a_content_version(tmp_path):
    crops, labels = person_and_not()
    result = verifier.train(crops, labels, epochs=2)
    path = verifier.save(result, tmp_path / "v.pt")
    loaded = verifier.load(path)
    assert loaded.threshold == pytest.approx(result.threshold)
    assert loaded.version.startswith("file:")
    np.testing.assert_allclose(loaded.scores(crops), verifier.predict(result.model, crops), atol=1e-5)
    assert loaded.accepts(np.zeros((0, 64, 64, 3), np.uint8))  # no box: nothing to veto


def test_a_file_that_is_not_a_verifier_is_unavailable(tmp_path):
    (tmp_path / "x.pt").write_bytes(b"nope")
    with pytest.raises(verifier.VerifierUnavailable):
        verifier.load_verifier(str(tmp_path / "x.pt"))
    assert verifier.load_verifier("") is None


def test_a_person_clip_box_that_looks_like_a_known_false_positive_is_not_a_person_example():
    image = photo("coffee")
    box = (100, 100, 200, 300)
    d = suppression.describe(image, box)
    nb = suppression.normalise_box(box, (image.shape[1], image.shape[0]))
    other = suppression.describe(photo("astronaut"), (100, 50, 300, 450))
    c = np.zeros((64, 64, 3), np.uint8)
    examples = [
        verifier.Example("cam", "neg", False, nb, d, c, 0.4),  # the poster in a no-person clip
        verifier.Example("cam", "pos", True, nb, d, c, 0.4),  # the same poster in a person clip
        verifier.Example("cam", "pos", True, (0.5, 0.2, 0.7, 0.9), other, c, 0.5),  # the person
        verifier.Example("cam2", "pos2", True, nb, d, c, 0.4),  # same look on another camera: kept
        verifier.Example("cam", "pos", True, (0.1, 0.1, 0.2, 0.2), other, c, 0.05),  # under min_score
    ]
    _crops, labels = verifier.build_examples(examples)
    assert labels.tolist() == [0, 1, 1]


COUNTS = Counts(tp=9, fp=10, fn=1, tn=20)


def test_promotion_accepts_fewer_false_alerts_at_equal_recall():
    ok, reason = verifier.promotion_decision(COUNTS, Counts(tp=9, fp=4, fn=1, tn=26))
    assert ok and "6 fewer false alerts" in reason


@pytest.mark.parametrize(
    "candidate, why",
    [
        (Counts(tp=8, fp=0, fn=2, tn=30), "loses people"),  # no false alert, but a person lost
        (Counts(tp=9, fp=10, fn=1, tn=20), "no fewer false alerts"),
        (Counts(tp=9, fp=12, fn=1, tn=18), "no fewer false alerts"),
        (Counts(tp=5, fp=0, fn=1, tn=20), "not of the same clips"),
    ],
)
def test_promotion_refuses_a_worse_model(candidate, why):
    ok, reason = verifier.promotion_decision(COUNTS, candidate)
    assert not ok and why in reason


def test_promotion_needs_clips_to_compare_on():
    assert verifier.promotion_decision(Counts(), Counts()) == (False, "no clips to compare on")


class Model:
    """A verifier whose answer is "person" for a crop brighter than 100."""

    def accepts(self, crops):
        return bool((crops.reshape(len(crops), -1).mean(axis=1) > 100).any())


def test_the_crop_veto_asks_about_the_crops_it_has_and_vetoes_nothing_without_one():
    from inference.decision import BoxRef

    dark, bright = np.zeros((64, 64, 3), np.uint8), np.full((64, 64, 3), 200, np.uint8)
    b = Box(0, 0, 10, 10, 0.9)
    veto = verifier.CropVeto(Model(), {(0, 0): dark, (1, 2): bright})
    assert veto.accepts([BoxRef(0, 0, b)]) is False and veto.checked
    assert veto.accepts([BoxRef(0, 0, b), BoxRef(1, 2, b)]) is True
    unasked = verifier.CropVeto(Model(), {(0, 0): dark})
    assert unasked.accepts([BoxRef(3, 0, b)]) is True and not unasked.checked


def test_a_training_run_is_tracked_registered_and_promoted_only_when_decided(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    crops, labels = person_and_not()
    result = verifier.train(crops, labels, epochs=2)
    model = verifier.save(result, tmp_path / tracking.MODEL_FILE)
    data = tmp_path / "examples.csv"
    data.write_text("clip,camera,label\n")
    run = tracking.log_training_run(
        tracking_uri=uri,
        params={"epochs": 2},
        metrics={"train_accuracy": result.train_accuracy, "nothing": None},
        model_file=model,
        data_files=[data],
    )
    assert run.version == "1"
    c = tracking.client(uri)
    logged = c.get_run(run.run_id)
    assert logged.data.params == {"epochs": "2"} and "train_accuracy" in logged.data.metrics
    assert {a.path for a in c.list_artifacts(run.run_id)} >= {"model", "data"}
    assert (tmp_path / "mlflow" / "artifacts").is_dir()  # beside the database, not ./mlruns

    tracking.record_decision(
        tracking_uri=uri,
        run_id=run.run_id,
        version=run.version,
        promote=False,
        reason="no fewer false alerts",
        evidence={"baseline": COUNTS},
    )
    assert tracking.production_version(tracking_uri=uri) is None
    assert c.get_run(run.run_id).data.tags["promotion"] == "refused"

    second = tracking.log_training_run(tracking_uri=uri, params={}, metrics={}, model_file=model, data_files=[])
    tracking.record_decision(
        tracking_uri=uri, run_id=second.run_id, version=second.version, promote=True, reason="better", evidence={}
    )
    assert tracking.production_version(tracking_uri=uri) == "2"
    mv = c.get_model_version(tracking.MODEL_NAME, "2")
    assert mv.tags["promotion"] == "promoted"
    (tmp_path / "dl").mkdir()
    decision = json.loads(Path(c.download_artifacts(second.run_id, "promotion.json", str(tmp_path / "dl"))).read_text())
    assert decision["decision"] == "promoted"

    path, version = tracking.fetch_model(
        "models:/vigia-verifier@production", tracking_uri=uri, dst=tmp_path / "fetched"
    )
    assert version == "vigia-verifier/2"
    loaded = verifier.load(path, version=version)
    assert loaded.version == "vigia-verifier/2" and loaded.threshold == pytest.approx(result.threshold)


def test_version_1_of_two_stores_are_two_models(tmp_path):
    """The download cache is keyed by run, not by version number: every store has a version 1."""
    crops, labels = person_and_not()
    result = verifier.train(crops, labels, epochs=1)
    loaded = []
    for store, threshold in (("one", 0.11), ("two", 0.22)):
        result.threshold = threshold
        model = verifier.save(result, tmp_path / store / tracking.MODEL_FILE)
        uri = f"sqlite:///{tmp_path / store / 'mlflow.db'}"
        run = tracking.log_training_run(tracking_uri=uri, params={}, metrics={}, model_file=model, data_files=[])
        path, version = tracking.fetch_model(f"models:/{tracking.MODEL_NAME}/{run.version}", tracking_uri=uri)
        loaded.append((version, verifier.load(path).threshold))
    assert loaded == [("vigia-verifier/1", pytest.approx(0.11)), ("vigia-verifier/1", pytest.approx(0.22))]

"""Fine-tuning the detector from reviews (inference/training): one tiny training run on a camera
whose static false positive (the cat) was reviewed, judged on a held-out camera's later clips."""

from __future__ import annotations

import json

import pytest
import torch

from inference import evaluate, replay
from inference.detector import load_detector
from inference.detectors.plugins.centernet import centernet_model_path
from inference.training import gate, pipeline, registry
from inference.training.model import TrainableCenterNet, export_onnx
from inference.training.trainer import TrainConfig, TrainResult
from tests.inference import training_data


@pytest.fixture(scope="module")
def trained(tmp_path_factory, request):
    """One training run (2 epochs, 320 px) and its MLflow store, shared by this module's tests."""
    root = tmp_path_factory.mktemp("training")
    uri = f"sqlite:///{root / 'mlflow' / 'mlflow.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", uri)
    request.addfinalizer(mp.undo)
    torch.set_num_threads(2)
    job = pipeline.Job(
        export_dir=training_data.write_export(root / "export"),
        model_json=centernet_model_path(),
        config=TrainConfig(epochs=2, threshold=training_data.THRESHOLD),
        heldout_labels=training_data.write_heldout(root / "heldout"),
        holdout=[training_data.HELDOUT_CAMERA],
        tracking_uri=uri,
        model_out=root / "model",
    )
    return job, pipeline.run(job)


def test_it_lowers_the_reviewed_false_positive_and_keeps_the_people(trained):
    _job, summary = trained
    scores = {c["clip_file"]: c for c in summary["clips"]}
    cat, walker = scores["cat.mp4"], scores["walker.mp4"]
    assert cat["score"] >= training_data.THRESHOLD  # a false alert before
    assert cat["score_after"] < cat["score"] / 2
    assert walker["score_after"] >= training_data.THRESHOLD
    assert summary["heldout"]["before"] == {"tp": 1, "fp": 1, "fn": 0, "tn": 0}
    assert summary["heldout"]["after"] == {"tp": 1, "fp": 0, "fn": 0, "tn": 1}
    assert summary["promoted"] is True, summary["reason"]
    assert summary["model_uri"] == f"models:/vigia-detector/{summary['version']}"
    assert all(e["frame_recall"] == 1.0 for e in summary["epochs"])


def test_the_run_is_in_mlflow_with_its_data_metrics_model_and_decision(trained):
    job, summary = trained
    c = registry.client(job.tracking_uri)
    run = c.get_run(summary["run_id"])
    assert run.data.tags["promotion"] == "promoted"
    assert "fewer false alerts" in run.data.tags["promotion_reason"]
    assert run.data.params["epochs"] == "2"
    assert [m.step for m in c.get_metric_history(run.info.run_id, "heldout_frame_recall")] == [1, 2]
    assert len(c.get_metric_history(run.info.run_id, "loss")) == 2
    assert run.inputs.dataset_inputs[0].dataset.name == "export"
    files = {f.path for f in c.list_artifacts(run.info.run_id, "model")}
    assert files == {"model/model.onnx", "model/input_contract.json"}
    assert registry.production_version(c) == summary["version"]
    assert (job.model_out / "model.onnx").is_file()


def test_evaluate_and_replay_accept_the_registered_model(trained, capsys):
    job, summary = trained
    labels = job.heldout_labels
    for uri in (summary["model_uri"], "models:/vigia-detector@production"):
        argv = [str(labels), "--detector", uri, "--threshold", str(training_data.THRESHOLD)]
        assert evaluate.main(argv) == 0
        line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert (line["tp"], line["fp"], line["detector"]) == (1, 0, f"vigia-detector/{summary['version']}")
    assert replay.main([str(labels), "--detector", summary["model_uri"], "--strategies", "threshold"]) == 0


def _broken_candidate(job, tmp_path) -> tuple[str, str]:
    """A registered candidate that finds nobody: the heat map's last bias pushed far down."""
    net = TrainableCenterNet(job.model_json)
    name = next(n for n in net._slot if "centernet_cls_output" in n and net._slot[n][1] is not None)
    with torch.no_grad():
        net.conv_biases[net._slot[name][1]].fill_(-30.0)
    onnx = export_onnx(net, tmp_path / "broken.onnx", 320)
    c = registry.client(job.tracking_uri)
    run_id = registry.start_run(c, job.tracking_uri, params={"broken": True}, tags={"vigia.task": "test"})
    registry.log_model(c, run_id, onnx, 320)
    return run_id, registry.register(c, run_id), onnx


def test_the_gate_refuses_a_candidate_that_loses_people_and_workers_follow_the_alias(trained, tmp_path):
    job, summary = trained
    c = registry.client(job.tracking_uri)
    following = load_detector("models:/vigia-detector@production")
    following.refresh_seconds = 0.0
    run_id, version, onnx = _broken_candidate(job, tmp_path)
    rows = gate.heldout_rows(job.heldout_labels, job.holdout)
    result = pipeline._decide(job, c, run_id, version, onnx, TrainResult(), job.holdout, None)
    assert result["promoted"] is False
    assert result["reason"].startswith("loses people")
    assert c.get_run(run_id).data.tags["promotion"] == "refused"
    assert registry.production_version(c) == summary["version"]
    assert rows
    # an operator promotes it anyway: a worker following the alias swaps it in without a restart
    registry.promote(c, version, reason="test")
    following.detect([])
    assert following.version == f"vigia-detector/{version}"
    assert registry.rollback(c) == (version, summary["version"])
    following.detect([])
    assert following.version == f"vigia-detector/{summary['version']}"

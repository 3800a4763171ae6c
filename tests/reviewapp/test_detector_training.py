"""The detector's training from the app's side: `train_detector` on an ExportRun, `detector_promote`,
and the image's `train` role on local folders (inference/training/role.py)."""

from __future__ import annotations

import io
import json
import time

import pytest
import torch
from django.core.management import call_command
from django.core.management.base import CommandError

from inference.training import registry, role
from labeling.models import ExportRun
from reviewapp.review.models import Clip
from tests.conftest import api_client
from tests.factories import CameraFactory, CustomerFactory, make_user
from tests.inference import training_data


@pytest.fixture
def store(settings, tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    settings.MLFLOW_TRACKING_URI = uri
    settings.DEFAULT_THRESHOLD = training_data.THRESHOLD
    settings.DETECTOR_TRAINING_DIR = tmp_path / "training"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    torch.set_num_threads(2)
    return uri


def test_the_train_role_reads_its_channels_and_writes_the_model_folder(store, tmp_path, capsys):
    data = tmp_path / "opt" / "ml" / "input" / "data"
    training_data.write_export(data / "train")
    training_data.write_heldout(data / "holdout")
    hyper = tmp_path / "hyperparameters.json"
    hyper.write_text(json.dumps({"epochs": "1", "threshold": str(training_data.THRESHOLD), "holdout": "cam-heldout"}))
    model_dir = tmp_path / "opt" / "ml" / "model"
    argv = ["--input-dir", str(data), "--model-dir", str(model_dir), "--hyperparameters", str(hyper)]
    assert role.main([*argv, "--no-promote"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["promoted"] is False
    assert line["heldout"]["before"] == {"tp": 1, "fp": 1, "fn": 0, "tn": 0}
    assert {p.name for p in model_dir.iterdir()} == {"model.onnx", "input_contract.json", "summary.json"}
    assert json.loads((model_dir / "input_contract.json").read_text())["input_size"] == 320
    c = registry.client(store)
    assert c.get_run(line["run_id"]).data.params["epochs"] == "1"
    assert registry.production_version(c) is None
    # a missing channel is bad input, said on stderr
    assert role.main(["--input-dir", str(tmp_path / "nowhere"), "--model-dir", str(model_dir)]) == 2


@pytest.mark.django_db
def test_train_detector_trains_on_an_export_and_prints_one_json_line_last(store, tmp_path):
    folder = training_data.write_export(tmp_path / "export")
    labels = training_data.write_heldout(tmp_path / "heldout")
    run = ExportRun.objects.create(params={}, status=ExportRun.Status.DONE, location=str(folder), name="export")
    out = io.StringIO()
    call_command(
        "train_detector",
        "--export", str(run.id), "--holdout", "cam-heldout", "--epochs", "1",
        "--heldout-labels", str(labels), "--no-promote", "--sweep", "lr=1e-4,2e-4",
        stdout=out,
    )  # fmt: skip
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert set(summary) >= {"model_uri", "version", "promoted", "reason", "heldout"}
    assert summary["model_uri"] == "models:/vigia-detector/1"
    assert summary["promoted"] is False
    c = registry.client(store)
    children = c.search_runs(
        [c.get_experiment_by_name("vigia-detector").experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{summary['parent_run_id']}'",
    )
    assert sorted(r.data.params["lr"] for r in children) == ["0.0001", "0.0002"]
    assert c.get_run(summary["parent_run_id"]).data.tags["best_child"] == summary["run_id"]

    # the operator's override, and the rollback to what production was before
    call_command("detector_promote", "1", stdout=io.StringIO())
    assert registry.production_version(c) == "1"
    with pytest.raises(CommandError, match="records no previous"):
        call_command("detector_promote", "--rollback", stdout=io.StringIO())
    assert registry.register(c, summary["run_id"]) == "2"  # another version of the same run's model
    out = io.StringIO()
    call_command("detector_promote", "2", stdout=out)
    assert json.loads(out.getvalue()) == {"production": "2", "previous": "1"}
    call_command("detector_promote", "--rollback", stdout=io.StringIO())
    assert registry.production_version(c) == "1"
    with pytest.raises(CommandError, match="vigia-detector"):
        call_command("detector_promote", "7", stdout=io.StringIO())
    with pytest.raises(CommandError, match="no finished export"):
        call_command("train_detector", "--export", "999", stdout=io.StringIO())


@pytest.fixture
def production_detector(tmp_path, monkeypatch):
    """Two registered versions (the stock network as a contract ONNX file), version 1 promoted,
    and a worker environment that follows the alias at every clip."""
    from inference.detectors.plugins.centernet import centernet_model_path
    from inference.training.model import TrainableCenterNet, export_onnx

    uri = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    onnx = export_onnx(TrainableCenterNet(centernet_model_path()), tmp_path / "model.onnx", 320)
    c = registry.client(uri)
    run_id = registry.start_run(c, uri, params={}, tags={"vigia.task": "test"})
    registry.log_model(c, run_id, onnx, 320)
    assert (registry.register(c, run_id), registry.register(c, run_id)) == ("1", "2")
    registry.promote(c, "1", reason="test")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("DETECTOR", "models:/vigia-detector@production")
    monkeypatch.setenv("DETECTOR_ALIAS_REFRESH_SECONDS", "0")
    return c


def _post_and_wait(worker, camera, path, when) -> Clip:
    ingest = make_user(f"ingest-{when[-5:-3]}", "ingest")
    with open(path, "rb") as f:
        response = api_client(ingest).post(
            "/api/v1/clips/", {"camera": camera.name, "file": f, "recorded_at": when}, format="multipart"
        )
    assert response.status_code == 201, response.content
    deadline = time.monotonic() + 120
    clip = Clip.objects.get(id=response.json()["id"])
    while time.monotonic() < deadline and clip.status in ("queued", "processing"):
        time.sleep(0.3)
        assert worker.poll() is None, "the worker died"
        clip.refresh_from_db()
    assert clip.status == Clip.Status.DONE, clip.error
    return clip


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_running_worker_follows_the_production_alias_and_records_the_version(production_detector, worker, video):
    camera = CameraFactory(customer=CustomerFactory(name="Acme"), name="acme-door")
    first = _post_and_wait(worker, camera, video(name="a.mp4", frames=20), "2026-12-01T10:00:00Z")
    assert first.model_version == "vigia-detector/1"
    registry.promote(production_detector, "2", reason="test")
    second = _post_and_wait(worker, camera, video(name="b.mp4", frames=20, seed=1), "2026-12-01T10:01:00Z")
    assert second.model_version == "vigia-detector/2"


@pytest.mark.django_db
def test_without_an_export_it_exports_the_reviews_and_judges_on_the_held_out_cameras_clips(store, settings, tmp_path):
    from tests.labeling.exports import ClipMaker

    settings.EXPORT_ROOT = tmp_path / "exports"
    settings.EXPORT_OUT = ""
    maker = ClipMaker(tmp_path)
    reviewer = make_user("rev", "reviewer")
    customer = CustomerFactory(name="Acme")
    for name in ("cam-a", "cam-b", "cam-c"):
        camera = CameraFactory(customer=customer, name=name)
        maker.reviewed(camera, reviewer, verdict="person")
        maker.reviewed(camera, reviewer, verdict="no_person", alert=True)
    out = io.StringIO()
    call_command("train_detector", "--epochs", "1", "--no-promote", stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    run = ExportRun.objects.get()
    assert (run.status, run.trigger) == (ExportRun.Status.DONE, "training")
    held = set(summary["heldout_cameras"])
    assert held and held < {"cam-a", "cam-b", "cam-c"}  # the export's val/test cameras
    assert sum(summary["heldout"]["before"].values()) == 2 * len(held)  # their reviewed clips
    assert sum(summary["heldout"]["after"].values()) == 2 * len(held)
    assert summary["promoted"] is False
    c = registry.client(store)
    dataset = c.get_run(summary["run_id"]).inputs.dataset_inputs[0].dataset
    assert dataset.name == run.name and run.location in dataset.source


@pytest.mark.django_db
def test_the_weekly_job_is_off_by_default_and_logs_when_there_is_nothing_to_train_on(settings, capfd):
    from labeling.training.tasks import train_detector
    from reviewapp.project.celery import app

    assert "detector-weekly-training" not in settings.CELERY_BEAT_SCHEDULE
    app.loader.import_default_modules()
    assert "labeling.tasks.train_detector" in app.tasks
    capfd.readouterr()
    train_detector()  # no export, no reviewed clip: nothing to train on, said in the (JSON) log
    assert "scheduled detector training not run: empty selection" in capfd.readouterr().err
    assert not ExportRun.objects.exists()


@pytest.mark.django_db
def test_it_trains_on_an_export_published_to_s3(store, settings, tmp_path, aws_endpoint, aws_env):
    import boto3

    from labeling.export import storage

    s3 = boto3.client("s3", endpoint_url=aws_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="vigia-training")
    settings.AWS_S3_ENDPOINT_URL = aws_endpoint
    storage.reset()
    folder = training_data.write_export(tmp_path / "export")
    for path in folder.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), "vigia-training", f"exports/run1/{path.relative_to(folder)}")
    s3.put_object(Bucket="vigia-training", Key="exports/run1/_COMPLETE", Body=b"{}")
    run = ExportRun.objects.create(
        params={}, status=ExportRun.Status.DONE, location="s3://vigia-training/exports/run1", name="run1"
    )
    out = io.StringIO()
    labels = training_data.write_heldout(tmp_path / "heldout")
    args = ["--export", str(run.id), "--epochs", "1", "--holdout", "cam-heldout", "--heldout-labels", str(labels)]
    call_command("train_detector", *args, "--no-promote", stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    local = settings.DETECTOR_TRAINING_DIR / "exports" / "run1"
    assert (local / "manifest.jsonl").read_bytes() == (folder / "manifest.jsonl").read_bytes()
    assert sorted(p.name for p in (local / "images" / "train").iterdir()) == sorted(
        p.name for p in (folder / "images" / "train").iterdir()
    )
    dataset = registry.client(store).get_run(summary["run_id"]).inputs.dataset_inputs[0].dataset
    assert "s3://vigia-training/exports/run1" in dataset.source
    storage.reset()

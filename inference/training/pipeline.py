"""One training run end to end, as `train_detector`, the `train` role and the weekly job run it:

    export folder -> fine-tune (one config, or a sweep: a parent run with a child run each)
    -> contract ONNX + input contract logged and registered as `vigia-detector`
    -> the gate on the held-out cameras' clips (candidate vs production, through decide_clip)
    -> alias `production` moved only when the gate says so; decision and reason on the run.

Returns the summary `train_detector` prints as its last line:
{"model_uri", "version", "promoted", "reason", "heldout": {"before": {...}, "after": {...}}, "run_id", ...}.
"""

from __future__ import annotations

import itertools
import json
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from inference.detector import load_detector
from inference.training import data, gate, registry
from inference.training.model import TrainableCenterNet, export_onnx
from inference.training.trainer import TrainConfig, TrainResult, train

SWEEPABLE = {"lr": float, "epochs": int, "batch_size": int, "hard_weight": float, "keep_score": float, "layers": str}


@dataclass
class Job:
    export_dir: Path
    model_json: Path  # the CenterNet graph (centernet_model_path())
    config: TrainConfig
    heldout_labels: Path | None = None  # labels CSV of reviewed clips (inference/labels.py)
    holdout: list[str] | None = None  # held-out cameras (default: the export's val/test cameras)
    base_detector: str = "centernet:320:onnxruntime"  # what runs when no production version exists
    tracking_uri: str = ""
    promote: bool = True
    sweep: str = ""
    model_out: Path | None = None  # also write model.onnx + input_contract.json here
    source: str = ""  # where the export came from, for the dataset input
    tags: dict | None = None
    thresholds: dict[str, float] | None = None  # camera thresholds for the gate (else config.threshold)


def parse_sweep(text: str) -> list[dict]:
    """ "lr=1e-4,3e-4;epochs=5,10" -> the grid of overrides (4 here)."""
    axes = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, _, values = part.partition("=")
        key = key.strip()
        if key not in SWEEPABLE or not values.strip():
            raise ValueError(f"cannot sweep {part!r}: use NAME=V1,V2 with NAME in {', '.join(SWEEPABLE)}")
        axes.append([(key, SWEEPABLE[key](v.strip())) for v in values.split(",") if v.strip()])
    return [dict(combo) for combo in itertools.product(*axes)] if axes else []


def _fit(job: Job, c, cfg: TrainConfig, train_set, held, parent: str | None) -> tuple[str, Path, TrainResult]:
    """One child (or lone) run: trained from the original weights, logged, its ONNX written."""
    torch.manual_seed(cfg.seed)
    net = TrainableCenterNet(job.model_json)
    run_id = registry.start_run(
        c,
        job.tracking_uri,
        params={**cfg.as_params(), "train_images": len(train_set), "heldout_images": len(held)},
        tags={"vigia.task": "train_detector", **(job.tags or {})},
        parent=parent,
    )
    registry.log_dataset(
        c,
        run_id,
        name=job.export_dir.name,
        digest=data.manifest_digest(job.export_dir),
        source=job.source or str(job.export_dir),
        profile={"images": len(train_set) + len(held), "train": len(train_set), "heldout": len(held)},
    )

    def on_epoch(ep):
        metrics = {
            "loss": ep.loss,
            "heatmap_loss": ep.heatmap_loss,
            "size_loss": ep.size_loss,
            "epoch_seconds": ep.seconds,
        }
        metrics.update({f"heldout_{k}": v for k, v in ep.holdout.items()})
        registry.log_metrics(c, run_id, metrics, step=ep.epoch)

    result = train(net, train_set, held, cfg, on_epoch=on_epoch)
    registry.log_metrics(c, run_id, {f"heldout_before_{k}": v for k, v in result.before.items()})
    onnx = export_onnx(net, Path(tempfile.mkdtemp(prefix="vigia-detector-")) / registry.MODEL_FILE, cfg.input_size)
    registry.log_model(c, run_id, onnx, cfg.input_size)
    return run_id, onnx, result


def _baseline(job: Job, c) -> tuple[str, str]:
    """(spec, label) of what runs now: the production version, else the configured detector."""
    current = registry.production_version(c)
    if current:
        return f"models:/{registry.MODEL_NAME}/{current}", f"{registry.MODEL_NAME}/{current}"
    return job.base_detector, job.base_detector


def _judge(job: Job, c, onnx: Path, rows) -> dict:
    spec, label = _baseline(job, c)
    threshold = job.config.threshold
    at = {"threshold": threshold, "thresholds": job.thresholds}
    before, before_clips = gate.evaluate(job.heldout_labels, rows, load_detector(spec), **at)
    candidate = load_detector(f"onnx:{onnx}@{job.config.input_size}")
    after, after_clips = gate.evaluate(job.heldout_labels, rows, candidate, **at)
    ok, reason = gate.judge(before, after)
    return {
        "ok": ok,
        "reason": f"{reason} (against {label})",
        "before": gate.counts_dict(before),
        "after": gate.counts_dict(after),
        "clips": [{**b, "score_after": a["score"]} for b, a in zip(before_clips, after_clips)],
        "baseline": label,
    }


def _pick(results: list[tuple[str, Path, TrainResult, TrainConfig]]):
    """The sweep's best child: held-out people found first, then the lowest false-box score."""

    def key(item):
        last = item[2].epochs[-1].holdout
        return (-(last["frame_recall"] or 0), last["false_box_best_score"], item[2].epochs[-1].loss)

    return min(results, key=key)


def run(job: Job) -> dict:
    job.tracking_uri = job.tracking_uri or registry.tracking_uri_default()
    c = registry.client(job.tracking_uri)
    samples = data.read_export(job.export_dir)
    train_set, held = data.split_by_camera(samples, job.holdout)
    if not train_set:
        raise data.TrainingDataError("no training image outside the held-out cameras")
    cameras = job.holdout or sorted({s.camera for s in held})
    overrides = parse_sweep(job.sweep)
    parent = None
    if overrides:
        parent = registry.start_run(c, job.tracking_uri, params={"sweep": job.sweep}, tags={"vigia.task": "sweep"})
    fitted = []
    for override in overrides or [{}]:
        cfg = replace(job.config, **override)
        fitted.append((*_fit(job, c, cfg, train_set, held, parent), cfg))
    run_id, onnx, result, cfg = _pick(fitted)
    for other in fitted:
        if other[0] != run_id:
            c.set_terminated(other[0])  # a sweep's other children: logged, not registered
    if parent:
        c.set_tag(parent, "best_child", run_id)
    job.config = cfg
    version = registry.register(c, run_id)
    return _decide(job, c, run_id, version, onnx, result, cameras, parent)


def _decide(job: Job, c, run_id: str, version: str, onnx: Path, result: TrainResult, cameras, parent) -> dict:
    rows = gate.heldout_rows(job.heldout_labels, cameras) if job.heldout_labels else []
    none = gate.counts_dict(gate.Counts())
    judged = (
        _judge(job, c, onnx, rows)
        if rows
        else {"ok": False, "reason": "no held-out clips to judge the candidate on", "before": none, "after": none}
    )
    promoted = judged["ok"] and job.promote
    reason = judged["reason"] + ("; not promoted (--no-promote)" if judged["ok"] and not job.promote else "")
    registry.log_metrics(c, run_id, {f"gate_before_{k}": v for k, v in judged["before"].items()})
    registry.log_metrics(c, run_id, {f"gate_after_{k}": v for k, v in judged["after"].items()})
    registry.record_decision(
        c, run_id, version, promoted=promoted, reason=reason, evidence={**judged, "cameras": cameras}
    )
    if promoted:
        registry.promote(c, version, reason=reason)
    for rid in filter(None, {run_id, parent}):
        c.set_terminated(rid)
    if job.model_out is not None:
        job.model_out.mkdir(parents=True, exist_ok=True)
        shutil.copy(onnx, job.model_out / registry.MODEL_FILE)
        (job.model_out / registry.CONTRACT_FILE).write_text(json.dumps(registry.input_contract(job.config.input_size)))
    return {
        "model_uri": f"models:/{registry.MODEL_NAME}/{version}",
        "version": version,
        "promoted": promoted,
        "reason": reason,
        "heldout": {"before": judged["before"], "after": judged["after"]},
        "run_id": run_id,
        "parent_run_id": parent,
        "heldout_cameras": cameras,
        "epochs": [
            {"epoch": e.epoch, "loss": round(e.loss, 4), "seconds": round(e.seconds, 1), **e.holdout}
            for e in result.epochs
        ],
        "clips": judged.get("clips", []),
    }

"""Fine-tuning the detector on this CPU (inference/training): time per epoch at the working input
size, then the gate's held-out clips before and after, through decide_clip.

    python benchmarks/bench_training.py [--scene footage|composite] [--epochs 2] [--input-size 320]
        [--threshold T] [--tracking-uri sqlite:///var/bench-mlflow/mlflow.db] [--threads 2]

`--scene footage` (the default): real-looking consecutive minutes of a still view
(tests/inference/training_footage.py over tests/scenes.py: noise, light drift, colour cast,
sub-pixel sway, JPEG then MP4). One camera's static false objects reviewed once (one false-alert
minute, 2 frames) plus 3 confirmed people frames (crossing, half hidden at the edge, small and
distant); the gate replays that camera's later minutes AND two cameras it never trained on.
Synthetic footage of one scene, not a real camera.
`--scene composite`: the older still composites of tests/inference/training_data.py.
Prints per-epoch figures, the clips before/after, the gate, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cv2
import torch

from inference.detector import load_detector
from inference.detectors.plugins.centernet import centernet_model_path
from inference.thresholds import Counts
from inference.training import pipeline
from inference.training.targets import iou
from inference.training.trainer import TrainConfig
from tests.inference import training_data, training_footage


def _data(scene: str, tmp: Path, size: int) -> tuple[Path, Path, list[str] | None, float]:
    """(export folder, held-out labels, holdout cameras, default threshold) of the scene."""
    if scene == "composite":
        export = training_data.write_export(tmp / "export")
        return (
            export,
            training_data.write_heldout(tmp / "heldout"),
            [training_data.HELDOUT_CAMERA],
            training_data.THRESHOLD,
        )
    base = load_detector(f"centernet:{size}:onnxruntime")
    export = training_footage.write_export(tmp / "export", base)
    # no holdout list: the export's val cameras (the trained camera's later minutes too) are the gate's
    return export, training_footage.write_heldout(tmp / "heldout"), None, training_footage.THRESHOLD


def person_box_scores(folder: Path, clips: list[dict], before, after) -> dict[str, tuple[float, float]]:
    """The best score of a box on the person (IoU >= 0.3 with where tests/scenes.py drew them) in
    every frame of each footage person clip, with the base detector and the candidate: the
    person's own score, not the clip's best box."""
    out = {}
    for c in clips:
        kind = c["clip_file"].rsplit("-", 1)[-1].removesuffix(".mp4")
        if not c["person"] or kind not in training_footage.PHASE:
            continue
        cap, frames = cv2.VideoCapture(str(folder / c["clip_file"])), []
        while (got := cap.read())[0]:
            frames.append(got[1])
        cap.release()
        best = []
        for detector in (before, after):
            score = 0.0
            for i, boxes in enumerate(detector.detect(frames)):
                where = training_footage.person_box(kind, i / max(len(frames) - 1, 1))
                if where[2] > where[0]:
                    score = max([score, *(b.score for b in boxes if iou(b.as_list(), where) >= 0.3)])
            best.append(round(score, 4))
        out[c["clip_file"]] = tuple(best)
    return out


def _by_camera(clips: list[dict], key: str, threshold: float) -> dict:
    out = {}
    for camera in sorted({c["camera"] for c in clips}):
        pairs = [(c["person"], c[key] >= threshold) for c in clips if c["camera"] == camera]
        n = Counts.of(pairs)
        out[camera] = {k: getattr(n, k) for k in ("tp", "fp", "fn", "tn")}
    return out


def _report(summary: dict, threshold: float, wall: float, setup: float, people: dict) -> None:
    for e in summary["epochs"]:
        print(
            f"epoch {e['epoch']}: {e['seconds']:.1f} s, loss {e['loss']}, held-out frame recall "
            f"{e['frame_recall']}, held-out false-box best score {e['false_box_best_score']}"
        )
    print(f"camera threshold {threshold}")
    print(f"{'held-out clip':<26} {'camera':<8} {'person':>6} {'before':>7} {'after':>7}  after/before")
    for c in summary["clips"]:
        ratio = c["score_after"] / c["score"] if c["score"] else float("nan")
        mark = "alerts" if c["score_after"] >= threshold else "silent"
        print(
            f"{c['clip_file']:<26} {c['camera']:<8} {int(c['person']):>6} {c['score']:7.3f} {c['score_after']:7.3f}"
            f"  {ratio:5.2f} ({mark} after)"
        )
    before, after = (
        _by_camera(summary["clips"], "score", threshold),
        _by_camera(summary["clips"], "score_after", threshold),
    )
    for camera in before:
        print(f"  {camera}: {before[camera]} -> {after[camera]}")
    if people:
        print(f"the person's own box (IoU >= 0.3), best over the clip's frames, vs threshold {threshold}:")
        for name, (b, a) in people.items():
            print(f"  {name:<26} {b:.3f} -> {a:.3f}  ({'alerts' if a >= threshold else 'BELOW'} after)")
    print(f"gate (all held-out clips): {summary['heldout']['before']} -> {summary['heldout']['after']}")
    print(f"promoted: {summary['promoted']} ({summary['reason']})")
    print(f"MLflow run id: {summary['run_id']}  model: {summary['model_uri']}")
    print(f"wall {wall:.1f} s (data {setup:.1f} s)")


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--scene", choices=("footage", "composite"), default="footage")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--input-size", type=int, default=320)
    p.add_argument("--threshold", type=float, default=None)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--promote", action="store_true", help="move the bench registry's production alias if the gate says so"
    )
    p.add_argument("--tracking-uri", default=f"sqlite:///{ROOT / 'var' / 'bench-mlflow' / 'mlflow.db'}")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        export, labels, holdout, default_threshold = _data(args.scene, Path(tmp), args.input_size)
        threshold = default_threshold if args.threshold is None else args.threshold
        setup = time.perf_counter() - started
        job = pipeline.Job(
            export_dir=export,
            model_json=centernet_model_path(),
            config=TrainConfig(input_size=args.input_size, epochs=args.epochs, threshold=threshold),
            heldout_labels=labels,
            holdout=holdout,
            base_detector=f"centernet:{args.input_size}:onnxruntime",
            tracking_uri=args.tracking_uri,
            promote=args.promote,
            model_out=Path(tmp) / "model",
        )
        summary = pipeline.run(job)
        wall = time.perf_counter() - started
        people = {}
        if args.scene == "footage":
            base = load_detector(f"centernet:{args.input_size}:onnxruntime")
            candidate = load_detector(f"onnx:{Path(tmp) / 'model' / 'model.onnx'}@{args.input_size}")
            people = person_box_scores(labels.parent, summary["clips"], base, candidate)
    _report(summary, threshold, wall, setup, people)
    print(
        json.dumps(
            {
                "scene": args.scene,
                "input_size": args.input_size,
                "threads": args.threads,
                "threshold": threshold,
                "epoch_seconds": [e["seconds"] for e in summary["epochs"]],
                "wall_seconds": round(wall, 1),
                "heldout": summary["heldout"],
                "clips": summary["clips"],
                "person_box_scores": people,
                "promoted": summary["promoted"],
                "reason": summary["reason"],
                "run_id": summary["run_id"],
                "model_uri": summary["model_uri"],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

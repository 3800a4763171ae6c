"""Fine-tuning the detector on this CPU (inference/training): time per epoch at the working input
size, and the held-out camera's clips before and after (the reviewed static false positive, the
cat of tests/scenes.py, and a person walking through the same scene), through decide_clip.

    python benchmarks/bench_training.py [--epochs 3] [--input-size 320] [--threshold 0.12]
        [--tracking-uri sqlite:///var/bench-mlflow/mlflow.db] [--threads 2]

The data are the synthetic composites of tests/inference/training_data.py (3 frames of the cat,
reviewed as a false alert, 3 of the person, on the training camera; the held-out camera's later
clips): NOT real footage. Prints per-epoch figures, then one JSON line.
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

import torch

from inference.detectors.plugins.centernet import centernet_model_path
from inference.training import pipeline
from inference.training.trainer import TrainConfig
from tests.inference import training_data


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--input-size", type=int, default=320)
    p.add_argument("--threshold", type=float, default=training_data.THRESHOLD)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tracking-uri", default=f"sqlite:///{ROOT / 'var' / 'bench-mlflow' / 'mlflow.db'}")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        job = pipeline.Job(
            export_dir=training_data.write_export(Path(tmp) / "export"),
            model_json=centernet_model_path(),
            config=TrainConfig(input_size=args.input_size, epochs=args.epochs, threshold=args.threshold),
            heldout_labels=training_data.write_heldout(Path(tmp) / "heldout"),
            holdout=[training_data.HELDOUT_CAMERA],
            base_detector=f"centernet:{args.input_size}:onnxruntime",
            tracking_uri=args.tracking_uri,
            promote=False,
        )
        started = time.perf_counter()
        summary = pipeline.run(job)
        wall = time.perf_counter() - started
    for e in summary["epochs"]:
        print(f"epoch {e['epoch']}: {e['seconds']:.1f} s, loss {e['loss']}, held-out frame recall {e['frame_recall']}")
    print(f"{'held-out clip':<14} {'person':>6} {'before':>7} {'after':>7}")
    for c in summary["clips"]:
        print(f"{c['clip_file']:<14} {int(c['person']):>6} {c['score']:7.3f} {c['score_after']:7.3f}")
    print(f"gate: {summary['heldout']['before']} -> {summary['heldout']['after']}: {summary['reason']}")
    seconds = [e["seconds"] for e in summary["epochs"]]
    print(
        json.dumps(
            {
                "input_size": args.input_size,
                "threads": args.threads,
                "train_images": 6,
                "epoch_seconds": seconds,
                "wall_seconds": round(wall, 1),
                "clips": summary["clips"],
                "run_id": summary["run_id"],
                "model_uri": summary["model_uri"],
                "gate_ok": summary["reason"].startswith(tuple("0123456789")),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The image's `train` role: one training run laid out as a SageMaker training job, so the same
code runs on this machine or as a SageMaker job when one machine is not enough.

    python -m inference.training.role [--input-dir /opt/ml/input/data] [--channel train]
        [--holdout-channel holdout] [--model-dir /opt/ml/model] [--epochs N] [--lr X] [--seed S]
        [--holdout CAM1,CAM2] [--threshold T] [--sweep ...] [--no-promote] [--tracking-uri URI]

Reads `<input-dir>/<channel>/` (a training-set export: manifest.jsonl + images) and, when there,
`<input-dir>/<holdout-channel>/labels.csv` (held-out reviewed clips, inference/labels.py); SageMaker's
`/opt/ml/input/config/hyperparameters.json` overrides the defaults of the options not given.
Writes `<model-dir>/model.onnx`, `input_contract.json` and `summary.json`, logs and registers
the run in MLflow (`--tracking-uri`, default `$MLFLOW_TRACKING_URI`), and promotes only through
the gate. Prints the summary as its last line. Exit 0 when a model was written, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from inference.training import pipeline, registry
from inference.training.data import TrainingDataError
from inference.training.trainer import TrainConfig

HYPERPARAMETERS = Path("/opt/ml/input/config/hyperparameters.json")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m inference.training.role", description=__doc__.split("\n\n")[0])
    p.add_argument("--input-dir", type=Path, default=Path(os.environ.get("SM_INPUT_DIR", "/opt/ml/input/data")))
    p.add_argument("--channel", default="train")
    p.add_argument("--holdout-channel", default="holdout")
    p.add_argument("--model-dir", type=Path, default=Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model")))
    p.add_argument("--hyperparameters", type=Path, default=HYPERPARAMETERS)
    p.add_argument("--epochs", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--input-size", type=int)
    p.add_argument("--threshold", type=float)
    p.add_argument("--holdout", default=None)
    p.add_argument("--sweep", default=None)
    p.add_argument("--no-promote", action="store_true")
    p.add_argument("--base-detector", default=os.environ.get("DETECTOR") or "centernet:320:onnxruntime")
    p.add_argument("--tracking-uri", default="")
    return p


def _options(args: argparse.Namespace) -> dict:
    """The options given, else SageMaker's hyperparameters (all strings there), else defaults."""
    hyper = json.loads(args.hyperparameters.read_text()) if args.hyperparameters.is_file() else {}
    given = {k: getattr(args, k) for k in ("epochs", "lr", "seed", "input_size", "threshold", "holdout", "sweep")}
    out = {}
    for key, value in given.items():
        raw = value if value is not None else hyper.get(key.replace("_", "-"), hyper.get(key))
        if raw is not None:
            out[key] = raw
    return out


def main(argv: list[str] | None = None) -> int:
    from inference.detectors.plugins.centernet import centernet_model_path

    args = _parser().parse_args(argv)
    o = _options(args)
    fields = {"epochs": int, "lr": float, "seed": int, "input_size": int, "threshold": float}
    try:
        config = TrainConfig(**{k: cast(o[k]) for k, cast in fields.items() if k in o})
    except ValueError as exc:
        print(f"error: bad hyperparameter: {exc}", file=sys.stderr)
        return 2
    labels = args.input_dir / args.holdout_channel / "labels.csv"
    job = pipeline.Job(
        export_dir=args.input_dir / args.channel,
        model_json=centernet_model_path(),
        config=config,
        heldout_labels=labels if labels.is_file() else None,
        holdout=[c for c in str(o.get("holdout") or "").split(",") if c] or None,
        base_detector=args.base_detector,
        tracking_uri=args.tracking_uri or registry.tracking_uri_default(),
        promote=not args.no_promote,
        sweep=str(o.get("sweep") or ""),
        model_out=args.model_dir,
        source=str(args.input_dir / args.channel),
        tags={"vigia.trigger": "train-role"},
    )
    try:
        summary = pipeline.run(job)
    except (TrainingDataError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    (args.model_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(json.dumps({k: v for k, v in summary.items() if k not in ("clips", "epochs")}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

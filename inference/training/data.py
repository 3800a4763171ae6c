"""The training set as a training-set export writes it (labeling/export): a folder with
`manifest.jsonl` (one line per image: `image`, `split`, `class`, `camera`, `boxes`, `false_boxes`,
`width`, `height`, ...) and the images. The export already made the selection: positives
(confirmed people, their boxes), hard negatives (confirmed false alerts, their boxes in
`false_boxes`), plain negatives, and the augmented copies. No Django here: the same folder is a
SageMaker channel (`/opt/ml/input/data/train`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

MANIFEST = "manifest.jsonl"


class TrainingDataError(ValueError):
    """The folder is not a usable training set."""


@dataclass
class Sample:
    image_path: Path
    split: str
    klass: str  # positive, hard_negative, negative
    camera: str
    boxes: list[list[float]]
    false_boxes: list[list[float]]
    width: int
    height: int
    clip: str = ""
    kept: list[list[float]] = field(default_factory=list)  # boxes to train on (labelled + kept)

    def image(self) -> np.ndarray:
        image = cv2.imread(str(self.image_path))
        if image is None:
            raise TrainingDataError(f"cannot read {self.image_path}")
        return image


def read_export(folder: Path) -> list[Sample]:
    """Every image of an export folder, as listed in its manifest."""
    manifest = Path(folder) / MANIFEST
    if not manifest.is_file():
        raise TrainingDataError(f"{folder} has no {MANIFEST}: not a training-set export")
    samples = []
    for number, line in enumerate(manifest.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            e = json.loads(line)
            samples.append(
                Sample(
                    Path(folder) / e["image"],
                    e.get("split", "train"),
                    e["class"],
                    str(e.get("camera", "")),
                    [list(map(float, b[:4])) for b in e.get("boxes") or []],
                    [list(map(float, b[:4])) for b in e.get("false_boxes") or []],
                    int(e["width"]),
                    int(e["height"]),
                    str(e.get("clip", "")),
                )
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise TrainingDataError(f"{manifest}: line {number}: {exc}") from exc
    if not samples:
        raise TrainingDataError(f"{manifest} lists no image")
    return samples


def manifest_digest(folder: Path) -> str:
    return hashlib.sha256((Path(folder) / MANIFEST).read_bytes()).hexdigest()


def split_by_camera(samples: list[Sample], holdout: list[str] | None) -> tuple[list[Sample], list[Sample]]:
    """(train, held out): the held-out cameras given, else the export's own val/test cameras."""
    if holdout:
        held = set(holdout)
        return [s for s in samples if s.camera not in held], [s for s in samples if s.camera in held]
    return [s for s in samples if s.split == "train"], [s for s in samples if s.split != "train"]


def to_batch(images: list[np.ndarray], input_size: int) -> np.ndarray:
    """BGR frames -> NHWC float32 RGB 0..255 stretched to the square input (as the detector)."""
    return np.stack([cv2.resize(i, (input_size, input_size))[:, :, ::-1] for i in images]).astype(np.float32)

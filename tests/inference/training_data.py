"""A tiny reviewed camera for the detector's training tests and benchmark: the cat of
tests/scenes.py stands still in front of the camera (CenterNet scores it as a person at ~0.13,
a false alert under a camera threshold of 0.12), and the astronaut walks through.

`write_export` writes what a training-set export writes (manifest.jsonl + images) for the
training camera; `write_heldout` writes later clips of the same scene, seen by a held-out camera,
and their labels CSV (inference/labels.py)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from tests import scenes

THRESHOLD = 0.12  # the camera's threshold: the cat (~0.13) alerts, the astronaut (~0.3) too
TRAIN_CAMERA, HELDOUT_CAMERA = "cam-train", "cam-heldout"


def _frames(seed: int):
    rng = np.random.default_rng(seed)
    scene = scenes.with_object(scenes.background(0))
    x1, y1, x2, y2 = scenes.OBJECT_BOX
    sprite = scenes.person(x2 - x1, y2 - y1)
    cat = [scenes.noisy(scene, rng) for _ in range(3)]
    people = [(scenes.noisy(scenes.paste(scene, sprite, x, y1), rng), [x, y1, x + x2 - x1, y2]) for x in (20, 80, 150)]
    return cat, people


def write_export(folder: Path, *, seed: int = 0) -> Path:
    (folder / "images" / "train").mkdir(parents=True, exist_ok=True)
    cat, people = _frames(seed)
    lines = []
    for i, image in enumerate(cat):
        lines.append(_entry(folder, f"cat{i}", image, "hard_negative", [], [list(scenes.OBJECT_BOX)]))
    for i, (image, box) in enumerate(people):
        lines.append(_entry(folder, f"person{i}", image, "positive", [box], []))
    # one frame of each class from the held-out camera: its people's recall is watched every epoch
    held_cat, held_people = _frames(seed + 100)
    lines.append(
        _entry(folder, "held-cat", held_cat[0], "hard_negative", [], [list(scenes.OBJECT_BOX)], HELDOUT_CAMERA)
    )
    lines.append(_entry(folder, "held-person", held_people[1][0], "positive", [held_people[1][1]], [], HELDOUT_CAMERA))
    (folder / "manifest.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    return folder


def _entry(folder: Path, stem: str, image, klass: str, boxes, false_boxes, camera: str = TRAIN_CAMERA) -> dict:
    name = f"images/train/{stem}.jpg"
    cv2.imwrite(str(folder / name), image)
    h, w = image.shape[:2]
    return {
        "image": name,
        "split": "train" if camera == TRAIN_CAMERA else "val",
        "class": klass,
        "camera": camera,
        "clip": stem,
        "boxes": boxes,
        "false_boxes": false_boxes,
        "width": w,
        "height": h,
    }


def write_heldout(folder: Path) -> Path:
    """Two later clips of the held-out camera: the cat alone, the astronaut walking; labels.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    scenes.write_scene_clip(folder / "cat.mp4", seconds=3, seed=7)
    scenes.write_scene_clip(folder / "walker.mp4", seconds=3, seed=8, walker=True)
    labels = folder / "labels.csv"
    labels.write_text(
        "clip_file,person,camera,recorded_at\n"
        f"cat.mp4,0,{HELDOUT_CAMERA},2026-12-01T10:00:00Z\n"
        f"walker.mp4,1,{HELDOUT_CAMERA},2026-12-01T10:01:00Z\n"
    )
    return labels

"""A reviewed camera on real-looking footage (tests/scenes.py's consecutive "minutes": sensor
noise, light drift, colour cast, sub-pixel sway, JPEG blocks, then MP4), for the detector's
training benchmark (benchmarks/bench_training.py --scene footage).

The training camera `lawn-0` (seed 0): its minute 0 (the cat, the cut-off cat at the right edge,
the 12 px blob, no person) reviewed ONCE as a false alert, its false boxes the base detector's
boxes on those frames (as the export writes them); minutes 1-3 reviewed as people (crossing,
half hidden at the edge, small and distant), one frame each with the person's box. Held out for
the gate: the same camera's later minutes (still ones and the three people again) and two
cameras it never trained on (`lawn-1`, `lawn-2`: other seeds of the same view, so other noise,
light and compression; the same scene, NOT another place). One later frame of each camera is the
export's `val` split, scored every epoch.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2

from tests import scenes

TRAIN_CAMERA = "lawn-0"
HELDOUT_CAMERAS = ("lawn-1", "lawn-2")
THRESHOLD = 0.12  # the camera threshold of issue #14's footage table: the static objects alert at it
FALSE_BOX_MIN = 0.1  # the detector's boxes on the reviewed false alert that become false boxes
T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)
PHASE = {
    "crossing": 0.55,
    "edge": 0.8,
    "distant": 0.5,
}  # the frame of each person clip trained on (one where the base detector boxes the person, as an export labels it)
REVIEWED_FRAMES = (5, 25)  # two frames of the reviewed false-alert minute


def _frame(minute: int, kind: str, seed: int, index: int):
    return next(itertools.islice(scenes.minute_frames(minute, person=kind, seed=seed), index, None))


def person_box(kind: str, phase: float) -> list[float]:
    sprite, x, y = scenes.person_at(kind, phase)
    h, w = sprite.shape[:2]
    return [float(max(x, 0)), float(max(y, 0)), float(min(x + w, scenes.SIZE[0])), float(min(y + h, scenes.SIZE[1]))]


def _index(phase: float, n: int = 40) -> int:
    return round(phase * (n - 1))


def write_export(folder: Path, detector) -> Path:
    """manifest.jsonl + images: 2 frames of the reviewed false alert, 3 people frames (train), and
    a later still frame and a later person frame of each camera (val)."""
    (folder / "images").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in REVIEWED_FRAMES:
        image = _frame(0, "", 0, i)
        false = [b.as_list()[:4] for b in detector.detect([image])[0] if b.score >= FALSE_BOX_MIN]
        lines.append(_entry(folder, f"lawn-0-m00-f{i}", image, "hard_negative", [], false, TRAIN_CAMERA, "train"))
    for minute, kind in enumerate(scenes.PEOPLE, 1):
        image = _frame(minute, kind, 0, _index(PHASE[kind]))
        box = person_box(kind, PHASE[kind])
        lines.append(
            _entry(folder, f"lawn-0-m{minute:02d}-{kind}", image, "positive", [box], [], TRAIN_CAMERA, "train")
        )
    for seed, camera in enumerate((TRAIN_CAMERA, *HELDOUT_CAMERAS)):
        still = _frame(20, "", seed, 20)  # minutes past every clip the gate replays
        false = [b.as_list()[:4] for b in detector.detect([still])[0] if b.score >= FALSE_BOX_MIN]
        lines.append(_entry(folder, f"{camera}-val-still", still, "hard_negative", [], false, camera, "val"))
        kind = scenes.PEOPLE[seed % 3]
        image = _frame(21, kind, seed, _index(PHASE[kind]))
        lines.append(
            _entry(
                folder, f"{camera}-val-{kind}", image, "positive", [person_box(kind, PHASE[kind])], [], camera, "val"
            )
        )
    (folder / "manifest.jsonl").write_text("".join(json.dumps(e) + "\n" for e in lines))
    return folder


def _entry(folder: Path, stem: str, image, klass: str, boxes, false_boxes, camera: str, split: str) -> dict:
    name = f"images/{stem}.jpg"
    cv2.imwrite(str(folder / name), image)
    h, w = image.shape[:2]
    return {
        "image": name,
        "split": split,
        "class": klass,
        "camera": camera,
        "clip": stem,
        "boxes": boxes,
        "false_boxes": false_boxes,
        "width": w,
        "height": h,
    }


def write_heldout(folder: Path, *, later_still: int = 3, other_still: int = 2) -> Path:
    """The gate's clips and labels.csv: `lawn-0`'s later minutes (from minute 4: `later_still`
    still ones, then the three people), and each held-out camera's `other_still` still minutes
    then the three people."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed, camera in enumerate((TRAIN_CAMERA, *HELDOUT_CAMERAS)):
        start = 4 if camera == TRAIN_CAMERA else 0
        kinds = [""] * (later_still if camera == TRAIN_CAMERA else other_still) + list(scenes.PEOPLE)
        for m, kind in enumerate(kinds, start):
            name = f"{camera}-m{m:02d}-{kind or 'still'}.mp4"
            scenes.write_minute_clip(folder / name, m, person=kind, seed=seed)
            rows.append(f"{name},{int(bool(kind))},{camera},{(T0 + timedelta(hours=seed, minutes=m)).isoformat()}\n")
    labels = folder / "labels.csv"
    labels.write_text("clip_file,person,camera,recorded_at\n" + "".join(rows))
    return labels

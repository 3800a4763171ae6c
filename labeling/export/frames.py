"""The frames of an export: which frames of a clip (those the detector saw), their boxes, how many
augmented copies each gets, and reading them with OpenCV."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import cv2
import numpy as np

from labeling.export.options import ExportOptions
from labeling.export.selection import NEGATIVE, POSITIVE, Selection
from reviewapp.review.models import Clip


@dataclass
class FramePlan:
    index: int
    time: float
    boxes: list[tuple[float, float, float, float, float]]  # person boxes to label, with scores
    false_boxes: list[tuple[float, float, float, float, float]]  # the detector's boxes on a negative


def plan_frames(clip: Clip, klass: str, detections: list[tuple], opts: ExportOptions) -> list[FramePlan]:
    """Which frames of a clip to export, and their boxes. `detections`: (frame_index, frame_time,
    x1, y1, x2, y2, score, label) rows of the clip."""
    by_frame: dict[int, list[tuple]] = defaultdict(list)
    for d in detections:
        if d[7] == "person":
            by_frame[d[0]].append(d)
    ranked = sorted(by_frame.items(), key=lambda kv: (-max(d[6] for d in kv[1]), kv[0]))
    plans = []
    if klass == POSITIVE:
        for index, dets in ranked:
            boxes = [tuple(d[2:7]) for d in dets if d[6] >= opts.box_min_score]
            if boxes:
                plans.append(FramePlan(index, dets[0][1], boxes, []))
    else:
        plans = [FramePlan(index, dets[0][1], [], [tuple(d[2:7]) for d in dets]) for index, dets in ranked]
        if not plans and klass == NEGATIVE:
            # No box at all: spread frames over the clip.
            count = max(1, round(clip.duration * clip.fps))
            n = min(opts.frames_per_clip, count)
            plans = [
                FramePlan(
                    min(count - 1, int((i + 0.5) * count / n)), round((i + 0.5) * count / n / clip.fps, 3), [], []
                )
                for i in range(n)
            ]
    return plans[: opts.frames_per_clip]


def read_frames(path: str, indices: list[int]) -> dict[int, np.ndarray]:
    """Frames by index. Seeks for a far frame, reads on for a near one (cheaper than a seek,
    which decodes from the previous key frame anyway)."""
    cap = cv2.VideoCapture(path)
    frames: dict[int, np.ndarray] = {}
    try:
        if not cap.isOpened():
            return frames
        pos = 0
        for index in sorted(set(indices)):
            if index < pos or index - pos > 30:
                cap.set(cv2.CAP_PROP_POS_FRAMES, index)
                pos = index
            while pos < index:
                if not cap.grab():
                    break
                pos += 1
            ok, image = cap.read()
            pos += 1
            if ok and image is not None:
                frames[index] = image
    finally:
        cap.release()
    return frames


def clip_box(box, w: int, h: int):
    x1, y1, x2, y2 = max(0.0, box[0]), max(0.0, box[1]), min(float(w), box[2]), min(float(h), box[3])
    if x2 - x1 < 1 or y2 - y1 < 1:
        return None
    return [round(x1, 2), round(y1, 2), round(x2, 2), round(y2, 2)]


def augmentation_plan(
    selection: Selection, plans: dict, splits: dict, klasses: tuple, opts: ExportOptions
) -> list[int]:
    """How many augmented copies each train source frame of the augmented class gets, in the
    order the export meets them: enough to match the other class's train frames, at most
    `augment_max` each, spread evenly. Planned before any frame is read, so no decoded image
    has to wait in memory for the count to be known."""
    sources = other = 0
    for cand in selection.clips:
        if splits.get(cand.camera) != "train":
            continue
        n = len(plans.get(cand.clip_id) or [])
        if cand.klass in klasses:
            sources += n
        else:
            other += n
    if not sources or not klasses or opts.augment_max <= 0:
        return [0] * sources
    wanted = min(max(0, other - sources), opts.augment_max * sources)
    base, extra = divmod(wanted, sources)
    return [base + (1 if i < extra else 0) for i in range(sources)]

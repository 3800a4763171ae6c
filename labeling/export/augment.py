"""Box-aware augmentation of training frames (albumentations 2.0.8), within limits that keep a
security-camera frame looking like one: a mirror image, a few degrees of tilt, a little zoom or
crop, the light of another hour, sensor noise, a slightly soft focus. No colour shifts, no
vertical flips, no cut-outs: a camera never produces those and the model would learn them.

Person boxes go in and out in pascal_voc pixels. A person must never be cropped away (the
label would then lie), so a result that lost a person box is retried, then given up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

if TYPE_CHECKING:
    import albumentations as A

Box = tuple[float, float, float, float]
PERSON = "person"
FALSE_POSITIVE = "false_positive"


def _albumentations():
    """albumentations, imported on first use. Importing it imports torch (albumentations.pytorch)
    and scipy: ~2.5 s and ~230 MB that every web process, beat and `manage.py` call would carry
    because the admin imports the export service. NO_ALBUMENTATIONS_UPDATE before the import:
    otherwise every import asks a package index whether a newer albumentations exists."""
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    import albumentations

    return albumentations


def pipeline(*, height: int, width: int, seed: int) -> A.Compose:
    A = _albumentations()
    return A.Compose(
        [
            A.HorizontalFlip(p=0.5),
            A.Affine(
                rotate=(-5, 5),
                scale=(0.95, 1.1),
                translate_percent=(-0.03, 0.03),
                border_mode=cv2.BORDER_REFLECT_101,
                p=0.6,
            ),
            # A crop of 80-100% of the frame with its aspect ratio, back to the frame's size: at
            # most ~1.1x zoom. (A box-safe crop would zoom up to a box filling the frame: too far.)
            A.RandomResizedCrop(
                size=(height, width), scale=(0.8, 1.0), ratio=(width / height * 0.97, width / height * 1.03), p=0.3
            ),
            A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0.2, p=0.6),
            A.GaussNoise(std_range=(0.01, 0.05), p=0.3),
            A.OneOf([A.GaussianBlur(blur_limit=(3, 5)), A.MotionBlur(blur_limit=(3, 5))], p=0.25),
        ],
        bbox_params=A.BboxParams(
            format="pascal_voc", label_fields=["labels"], min_visibility=0.3, clip=True, filter_invalid_bboxes=True
        ),
        seed=seed,
        save_applied_params=True,
    )


@dataclass
class Augmented:
    image: np.ndarray
    boxes: list[Box]
    false_boxes: list[Box]
    transforms: list[str]


class Augmenter:
    """One pipeline per image size, each with its own seeded random state: the same export
    options over the same frames, in the same order, give the same images."""

    def __init__(self, *, seed: int, tries: int = 3):
        self.seed = seed
        self.tries = tries
        self._pipelines: dict[tuple[int, int], A.Compose] = {}

    def _for(self, h: int, w: int) -> A.Compose:
        if (h, w) not in self._pipelines:
            self._pipelines[(h, w)] = pipeline(height=h, width=w, seed=self.seed * 1_000_003 + h * 10_007 + w)
        return self._pipelines[(h, w)]

    def __call__(self, image: np.ndarray, boxes: list[Box], false_boxes: list[Box]) -> Augmented | None:
        h, w = image.shape[:2]
        compose = self._for(h, w)
        labels = [PERSON] * len(boxes) + [FALSE_POSITIVE] * len(false_boxes)
        for _ in range(self.tries):
            out = compose(
                image=image,
                bboxes=np.array(list(boxes) + list(false_boxes), dtype=np.float32).reshape(-1, 4),
                labels=labels,
            )
            oh, ow = out["image"].shape[:2]
            people = [_clamp(b, ow, oh) for b, lab in zip(out["bboxes"], out["labels"]) if lab == PERSON]
            people = [b for b in people if b is not None]
            if len(people) != len(boxes):
                continue  # a person was pushed out of the frame: the label would lie
            fps = [_clamp(b, ow, oh) for b, lab in zip(out["bboxes"], out["labels"]) if lab == FALSE_POSITIVE]
            applied = [name for name, *_ in out.get("applied_transforms", [])]
            if not applied:
                continue  # nothing fired: a copy of the source teaches nothing
            return Augmented(out["image"], people, [b for b in fps if b is not None], applied)
        return None


def _clamp(box, width: int, height: int) -> Box | None:
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    x1, x2 = max(0.0, min(x1, width)), max(0.0, min(x2, width))
    y1, y2 = max(0.0, min(y1, height)), max(0.0, min(y2, height))
    if x2 - x1 < 1 or y2 - y1 < 1:
        return None
    return (round(x1, 2), round(y1, 2), round(x2, 2), round(y2, 2))

"""OpenCV's HOG + linear SVM people detector: dependency-light and weak (misses small or
partly hidden people, fires on vertical textures). A fallback until a better backend is set.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from inference.detector import Box, register

# HOG was trained on 64x128 pedestrians; frames wider than this are scaled down first,
# which costs little accuracy and bounds the time per frame.
MAX_WIDTH = 640
# SVM margin below which a window is not reported at all. Below 0 so that near-misses
# reach the review band around a threshold of 0.5.
HIT_THRESHOLD = -0.5


def svm_margin_to_score(margin: float) -> float:
    """Squash the SVM margin into 0..1 so it compares with a camera threshold (0 -> 0.5)."""
    return 1.0 / (1.0 + math.exp(-2.0 * margin))


@register
class HogDetector:
    name = "hog"
    version = f"hog-opencv-{cv2.__version__}"

    def __init__(self) -> None:
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    @classmethod
    def from_spec(cls, arg: str) -> HogDetector:
        """Spec "hog" (nothing to configure)."""
        return cls()

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Box]]:
        return [self._detect_one(frame) for frame in frames]

    def _detect_one(self, frame: np.ndarray) -> list[Box]:
        h, w = frame.shape[:2]
        scale = min(1.0, MAX_WIDTH / w)
        img = cv2.resize(frame, (round(w * scale), round(h * scale))) if scale < 1 else frame
        rects, weights = self._hog.detectMultiScale(
            img, hitThreshold=HIT_THRESHOLD, winStride=(8, 8), padding=(8, 8), scale=1.05
        )
        boxes = []
        for (x, y, bw, bh), weight in zip(rects, np.ravel(weights)):
            boxes.append(
                Box(
                    x1=float(x / scale),
                    y1=float(y / scale),
                    x2=float((x + bw) / scale),
                    y2=float((y + bh) / scale),
                    score=svm_margin_to_score(float(weight)),
                )
            )
        return boxes

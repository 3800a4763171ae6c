"""Drawing detections on a frame for people to look at."""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from inference.detector import Box

DECIDED = (0, 0, 230)  # BGR red: the box that gave the clip its score
ALERTS = (0, 90, 230)  # orange: another box at or above the threshold
BELOW = (0, 180, 255)  # amber: a box between the review floor and the threshold
FAINT = 0.55  # opacity of the boxes other than the deciding one


def _label(out: np.ndarray, b: Box, p1: tuple[int, int], color, thickness: int) -> None:
    text = f"{b.label} {b.score:.2f}"
    cv2.putText(
        out, text, (p1[0] + 2, max(p1[1] - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, thickness, cv2.LINE_AA
    )


def draw_boxes(
    image: np.ndarray,
    boxes: Iterable[Box],
    *,
    threshold: float,
    floor: float = 0.0,
    decided: Box | None = None,
    labels: bool = True,
    max_width: int = 640,
) -> bytes:
    """JPEG bytes of the frame, scaled to at most max_width, with its boxes.

    `decided` (the box that gave the clip its score, when it is on this frame) is drawn strong,
    in red, with its score. The other boxes only from `floor` up (the review floor: below it a
    box can neither alert nor be reviewed), thin and faint: orange at or above the threshold,
    amber below. A busy scene's dozens of weak boxes no longer hide the one that mattered.
    `labels=False` leaves the label and score out (what a customer sees)."""
    h, w = image.shape[:2]
    scale = min(1.0, max_width / w)
    out = cv2.resize(image, (round(w * scale), round(h * scale))) if scale < 1 else image.copy()

    def corners(b: Box) -> tuple[tuple[int, int], tuple[int, int]]:
        return (round(b.x1 * scale), round(b.y1 * scale)), (round(b.x2 * scale), round(b.y2 * scale))

    others = [b for b in boxes if b.score >= floor]
    if others:
        layer = out.copy()
        for b in others:
            p1, p2 = corners(b)
            color = ALERTS if b.score >= threshold else BELOW
            cv2.rectangle(layer, p1, p2, color, 1)
            if labels:
                _label(layer, b, p1, color, 1)
        out = cv2.addWeighted(layer, FAINT, out, 1 - FAINT, 0)
    if decided is not None:
        p1, p2 = corners(decided)
        cv2.rectangle(out, p1, p2, DECIDED, 3)
        if labels:
            _label(out, decided, p1, DECIDED, 2)
    ok, jpg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ValueError("cannot encode the frame as JPEG")
    return jpg.tobytes()

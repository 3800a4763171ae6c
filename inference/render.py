"""Drawing detections on a frame for people to look at."""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from inference.detector import Box


def draw_boxes(image: np.ndarray, boxes: Iterable[Box], *, threshold: float, max_width: int = 640) -> bytes:
    """JPEG bytes of the frame, scaled to at most max_width, with each box and its score drawn:
    red at or above the threshold (it alerts), amber below."""
    h, w = image.shape[:2]
    scale = min(1.0, max_width / w)
    out = cv2.resize(image, (round(w * scale), round(h * scale))) if scale < 1 else image.copy()
    for b in boxes:
        color = (0, 0, 230) if b.score >= threshold else (0, 180, 255)
        p1 = (round(b.x1 * scale), round(b.y1 * scale))
        p2 = (round(b.x2 * scale), round(b.y2 * scale))
        cv2.rectangle(out, p1, p2, color, 2)
        label = f"{b.label} {b.score:.2f}"
        cv2.putText(out, label, (p1[0] + 2, max(p1[1] - 4, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1, cv2.LINE_AA)
    ok, jpg = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ValueError("cannot encode the frame as JPEG")
    return jpg.tobytes()

"""Small real video files for tests, written with OpenCV."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def write_video(path: Path, *, frames: int = 20, size=(320, 240), fps: float = 10.0, seed: int = 0) -> Path:
    """An MP4 of moving noise-and-shapes frames. `seed` changes the bytes (and so the sha256)."""
    rng = np.random.default_rng(seed)
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened()
    base = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    for i in range(frames):
        frame = base.copy()
        cv2.rectangle(frame, (10 + 3 * i, 20), (60 + 3 * i, 120), (255, 255, 255), -1)
        writer.write(frame)
    writer.release()
    return path

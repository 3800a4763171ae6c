"""Demo clips for `make run`: short videos made from still photos with a slow pan, so the
pipeline has real frames to decode. The photos are scikit-image's public-domain / CC0 samples
(astronaut: NASA; chelsea and coffee: CC0)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

DATA = Path(__file__).parent / "demo_data"
PHOTOS = {
    "astronaut": DATA / "astronaut_512.png",
    "chelsea": DATA / "chelsea_512.png",
    "coffee": DATA / "coffee_512.png",
}


def write_clip(path: Path, image: np.ndarray, *, seconds: float = 6.0, fps: int = 10, size=(640, 480)) -> Path:
    """Write an MP4 that pans slowly across the image (a camera-like, slightly moving view)."""
    w, h = size
    big = cv2.resize(image, (int(w * 1.2), int(h * 1.2)))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write MP4 here")
    frames = int(seconds * fps)
    for i in range(frames):
        dx = int((big.shape[1] - w) * i / max(frames - 1, 1))
        writer.write(big[:h, dx : dx + w])
    writer.release()
    return path


def photo(name: str) -> np.ndarray:
    image = cv2.imread(str(PHOTOS[name]))
    if image is None:
        raise FileNotFoundError(PHOTOS[name])
    return image

"""Camera scenes with a static false positive, for the suppression tests: real photos (the cat
and the astronaut from reviewapp/review/demo_data) composited on a noisy background, as frames or as
MP4 clips. CenterNet scores the cat, stretched to a person's aspect, as a person at about 0.13."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from reviewapp.review.demo import photo

SIZE = (640, 480)
OBJECT_BOX = (300, 210, 400, 470)  # where the static object stands (x1, y1, x2, y2), in pixels


def background(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(60, 200, (SIZE[1], SIZE[0], 3), dtype=np.uint8), (31, 31), 0)


def paste(image: np.ndarray, sprite: np.ndarray, x: int, y: int) -> np.ndarray:
    out = image.copy()
    out[y : y + sprite.shape[0], x : x + sprite.shape[1]] = sprite
    return out


def static_object(box=OBJECT_BOX) -> np.ndarray:
    x1, y1, x2, y2 = box
    return cv2.resize(photo("chelsea"), (x2 - x1, y2 - y1))


def person(width: int, height: int) -> np.ndarray:
    return cv2.resize(photo("astronaut")[:, 20:400], (width, height))


def with_object(bg: np.ndarray, box=OBJECT_BOX) -> np.ndarray:
    return paste(bg, static_object(box), box[0], box[1])


def noisy(image: np.ndarray, rng, sigma: float = 2.0, gain: float = 1.0) -> np.ndarray:
    return np.clip(image.astype(np.float32) * gain + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)


def write_scene_clip(
    path: Path,
    *,
    seconds: float = 4.0,
    fps: int = 10,
    seed: int = 0,
    static: bool = True,
    walker: bool = False,
    gain: float = 1.0,
) -> Path:
    """A still camera view (the static object when `static`); with `walker`, the astronaut walks
    in from the left, stands in front of the object for the middle half of the clip, and leaves."""
    rng = np.random.default_rng(seed)
    scene = with_object(background(0)) if static else background(0)
    x1, y1, x2, y2 = OBJECT_BOX
    sprite = person(x2 - x1, y2 - y1)
    n = int(seconds * fps)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, SIZE)
    assert writer.isOpened()
    for i in range(n):
        frame = scene
        if walker:
            phase = i / n
            if phase < 0.25:
                x = int(x1 * phase / 0.25)
            elif phase < 0.75:
                x = x1
            else:
                x = x1 + int((SIZE[0] - (x2 - x1) - x1) * (phase - 0.75) / 0.25)
            frame = paste(scene, sprite, x, y1)
        writer.write(noisy(frame, rng, gain=gain))
    writer.release()
    return path

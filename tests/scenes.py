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


# ------------------------------------------------------------------ consecutive "minutes"
# Camera-like footage of one still view, minute after minute: what changes between two clips of a
# fixed camera is the sensor noise, the light (a cloud, the sun moving: gain and colour cast),
# a fraction of a pixel of sway (wind on the pole), and the encoder (JPEG-like blocks at a
# quality that varies with the scene's complexity). benchmarks/bench_jitter.py measures how much
# the detector's score of the same static object moves under exactly this.

EDGE_BOX = (560, 250, 640, 450)  # a half-visible object at the frame's right edge (the cat, cut off)
TINY_BOX = (200, 0, 212, 12)  # a 12 x 12 px blob at the frame's top edge (a leaf, a bird dropping)
PEOPLE = ("crossing", "edge", "distant")


def minute_scene() -> np.ndarray:
    """The still view: the cat at OBJECT_BOX, a cut-off cat at the right edge, a tiny blob on top."""
    scene = with_object(background(0))
    x1, y1, x2, y2 = EDGE_BOX
    cut = cv2.resize(photo("chelsea"), (2 * (x2 - x1), y2 - y1))[:, : x2 - x1]  # its left half only
    scene = paste(scene, cut, x1, y1)
    tx1, ty1, tx2, ty2 = TINY_BOX
    return paste(scene, cv2.resize(photo("coffee")[180:330, 180:330], (tx2 - tx1, ty2 - ty1)), tx1, ty1)


def _light(image: np.ndarray, rng, minute: int) -> np.ndarray:
    """This minute's light and sway: gain drifting +-12% over a quarter of an hour plus a little
    at random, a per-channel colour cast of +-3%, and up to 0.6 px of shift."""
    gain = 1.0 + 0.12 * np.sin(minute * 0.45) + rng.normal(0, 0.03)
    cast = gain * (1.0 + rng.uniform(-0.03, 0.03, 3))
    dx, dy = rng.uniform(-0.6, 0.6, 2)
    moved = cv2.warpAffine(image, np.float32([[1, 0, dx], [0, 1, dy]]), SIZE, borderMode=cv2.BORDER_REFLECT)
    return np.clip(moved.astype(np.float32) * cast, 0, 255).astype(np.uint8)


def _encode(image: np.ndarray, quality: int) -> np.ndarray:
    ok, jpg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    assert ok
    return cv2.imdecode(jpg, cv2.IMREAD_COLOR)


def person_at(kind: str, phase: float) -> tuple[np.ndarray, int, int] | None:
    """The person of a clip at `phase` (0..1 of the clip): sprite and top-left corner, or None
    while they are out of view. `crossing` walks across the static object's place; `edge` stands
    in from the right edge and stands half hidden by it, over the cut-off object; `distant` is a 36 x 48 px
    figure walking along the top of the frame, past the tiny blob."""
    if kind == "crossing":
        x1, y1, x2, y2 = OBJECT_BOX
        w = x2 - x1
        return person(w, y2 - y1), int(-w + (SIZE[0] + w) * phase), y1
    if kind == "edge":
        w, h = 180, 300
        shown = int(w * min(1.0, 0.2 + phase * 1.6) / 2)  # steps in from the edge, then stands half hidden
        return person(w, h)[:, :shown], SIZE[0] - shown, 170
    if kind == "distant":
        w, h = 36, 48
        return person(w, h), int(120 + 200 * phase), 6
    raise ValueError(kind)


def minute_frames(
    minute: int, *, person: str = "", seconds: float = 4.0, fps: int = 10, seed: int = 0, still: bool = True
):
    """The frames (BGR, 640x480) of one minute's clip of the still view, as `write_minute_clip`
    writes them: this minute's light, noise and compression; `person` one of PEOPLE or "";
    without `still`, the background alone (no static objects)."""
    rng = np.random.default_rng(seed * 1000 + minute)
    scene = _light(minute_scene() if still else background(0), rng, minute)
    sigma, quality = rng.uniform(1.5, 4.0), rng.integers(45, 90)
    n = int(seconds * fps)
    for i in range(n):
        frame = scene
        placed = person_at(person, i / max(n - 1, 1)) if person else None
        if placed is not None:
            sprite, x, y = placed
            frame = paste_clipped(
                scene, _light(sprite_canvas(sprite), rng, minute)[: sprite.shape[0], : sprite.shape[1]], x, y
            )
        yield _encode(noisy(frame, rng, sigma=sigma), quality)


def sprite_canvas(sprite: np.ndarray) -> np.ndarray:
    """The sprite on a frame-sized canvas, so that `_light` can warp it like the scene."""
    canvas = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    h, w = min(sprite.shape[0], SIZE[1]), min(sprite.shape[1], SIZE[0])
    canvas[:h, :w] = sprite[:h, :w]
    return canvas


def paste_clipped(image: np.ndarray, sprite: np.ndarray, x: int, y: int) -> np.ndarray:
    """`paste`, cutting off what falls outside the frame."""
    out = image.copy()
    h, w = sprite.shape[:2]
    x1, y1, x2, y2 = max(x, 0), max(y, 0), min(x + w, image.shape[1]), min(y + h, image.shape[0])
    if x1 < x2 and y1 < y2:
        out[y1:y2, x1:x2] = sprite[y1 - y : y2 - y, x1 - x : x2 - x]
    return out


def write_minute_clip(
    path: Path, minute: int, *, person: str = "", seconds: float = 4.0, fps: int = 10, seed: int = 0
) -> Path:
    """One minute's clip of the still view as an MP4 (see `minute_frames`)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, SIZE)
    assert writer.isOpened()
    for frame in minute_frames(minute, person=person, seconds=seconds, fps=fps, seed=seed):
        writer.write(frame)
    writer.release()
    return path

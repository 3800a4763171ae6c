"""Write a labelled clip set with several cameras and recurring false positives, for
`python -m inference.replay` (and `inference.evaluate`).

    .venv/bin/python benchmarks/make_replay_set.py OUT_DIR [--clips-per-camera N] [--seconds S] [--seed N]

No real camera footage is available to this project yet, so these are composites of the
public-domain / CC0 photos in reviewapp/review/demo_data (the only person is the astronaut photo):

- `shop-door`: a poster of a person on the wall (a sepia print of the astronaut) that CenterNet
  scores 0.35-0.5 in every clip: the recurring static false positive a suppression rule is for;
- `yard`: a reflection (a faint face, 0.3-0.5 s) flashes on a window in some clips: a transient
  false positive, the case for temporal evidence;
- `porch`: a cat photo as the scene (scores ~0.17, under the default threshold) and a second poster;
- `parking`: a plain scene with nothing that fools the detector.

People (colour crops of the astronaut, 200-360 px tall) walk across each camera in ~40% of the
clips, through the poster's place as often as not. Each clip has light changes and sensor noise.
Clips are one per camera every 20 minutes, cameras staggered by 5 minutes (no two at the same time).
The CSV has clip_file, person, camera, recorded_at and, for reading the results, `kind`.
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reviewapp.review.demo import photo

SIZE = (640, 480)
FPS = 10


def scene(seed: int) -> np.ndarray:
    """A plain synthetic view: sky, ground, a few blocks (walls, windows), blurred like a lens."""
    rng = np.random.default_rng(seed)
    w, h = SIZE
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 2] = rng.integers(120, 200, 3)
    img[h // 2 :] = rng.integers(40, 120, 3)
    for _ in range(6):
        x, y = int(rng.integers(0, w - 100)), int(rng.integers(h // 4, h // 2))
        bw, bh = int(rng.integers(40, 160)), int(rng.integers(40, 160))
        img[max(0, y - bh) : y, x : x + bw] = rng.integers(30, 220, 3)
    return cv2.GaussianBlur(img, (5, 5), 0)


def sepia(image: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[..., None].astype(np.float32)
    return np.clip(grey * np.array([0.6, 0.8, 1.1], np.float32), 0, 255).astype(np.uint8)


def resize_h(image: np.ndarray, height: int) -> np.ndarray:
    return cv2.resize(
        image, (max(1, int(image.shape[1] * height / image.shape[0])), height), interpolation=cv2.INTER_AREA
    )


def person_sprites() -> dict[str, np.ndarray]:
    a = photo("astronaut")
    return {"full": a, "body": a[20:512, 80:380], "upper": a[0:512, 40:400]}


CAMERAS = {
    # name: (background, static poster (sprite, x, y, height) or None, reflections?)
    "shop-door": ("scene:11", ("full", 360, 60, 230), False),
    "yard": ("scene:12", None, True),
    "porch": ("chelsea", ("face", 470, 40, 150), False),
    "parking": ("scene:14", None, False),
}


def background(spec: str) -> np.ndarray:
    if spec.startswith("scene:"):
        return scene(int(spec.split(":")[1]))
    return cv2.resize(photo(spec), SIZE)


def write_clip(
    path: Path, camera: str, *, person: bool, reflection: bool, seconds: float, rng: np.random.Generator
) -> None:
    bg_spec, poster, _ = CAMERAS[camera]
    bg = background(bg_spec).astype(np.float32)
    astronaut = photo("astronaut")
    if poster is not None:
        name, px, py, ph = poster
        src = astronaut[0:300, 100:350] if name == "face" else person_sprites()[name]
        print_ = sepia(resize_h(src, ph)).astype(np.float32)
        bg[py : py + print_.shape[0], px : px + print_.shape[1]] = print_
        cv2.rectangle(bg, (px - 3, py - 3), (px + print_.shape[1] + 2, py + print_.shape[0] + 2), (40, 40, 40), 3)
    gain = float(rng.uniform(0.8, 1.15))  # the light of the hour
    bg = bg * gain
    w, h = SIZE
    sprite = None
    if person:
        kind = str(rng.choice(["full", "body", "upper"]))
        sprite = resize_h(person_sprites()[kind], int(rng.integers(200, 361))).astype(np.float32) * gain
        cross_s = float(rng.uniform(3.0, 5.0))
        enter_s = float(rng.uniform(0.5, max(0.6, seconds - cross_s - 0.5)))
        leftwards = bool(rng.random() < 0.5)
        if leftwards:
            sprite = sprite[:, ::-1]
        y0 = h - sprite.shape[0] - int(rng.integers(0, 30))
    flash_at = float(rng.uniform(1.0, seconds - 1.0)) if reflection else -1.0
    flash_len = float(rng.uniform(0.3, 0.5))
    ghost = sepia(resize_h(astronaut[0:300, 100:350], 200)).astype(np.float32) if reflection else None
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    for i in range(int(seconds * FPS)):
        t = i / FPS
        frame = bg.copy()
        if ghost is not None and flash_at <= t < flash_at + flash_len:
            gy, gx = 90, 380
            region = frame[gy : gy + ghost.shape[0], gx : gx + ghost.shape[1]]
            frame[gy : gy + ghost.shape[0], gx : gx + ghost.shape[1]] = 0.6 * ghost + 0.4 * region
        if sprite is not None and enter_s <= t <= enter_s + cross_s:
            p = (t - enter_s) / cross_s
            x = int((1 - p if leftwards else p) * (w - sprite.shape[1]))
            frame[y0 : y0 + sprite.shape[0], x : x + sprite.shape[1]] = sprite
        frame += rng.normal(0, 2.0, frame.shape)
        writer.write(np.clip(frame, 0, 255).astype(np.uint8))
    writer.release()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--clips-per-camera", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=6)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    (args.out / "clips").mkdir(parents=True, exist_ok=True)
    start = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    rows = []
    for n in range(args.clips_per_camera):
        for c, camera in enumerate(CAMERAS):
            person = bool(rng.random() < 0.4)
            reflection = CAMERAS[camera][2] and bool(rng.random() < 0.5)
            recorded_at = start + timedelta(minutes=20 * n + 5 * c)
            name = f"clips/{camera}/{recorded_at:%Y%m%dT%H%M}.mp4"
            (args.out / name).parent.mkdir(parents=True, exist_ok=True)
            write_clip(args.out / name, camera, person=person, reflection=reflection, seconds=args.seconds, rng=rng)
            kind = (
                "+".join(
                    k
                    for k, on in (
                        ("person", person),
                        ("poster", CAMERAS[camera][1] is not None),
                        ("reflection", reflection),
                    )
                    if on
                )
                or "empty"
            )
            rows.append((name, int(person), camera, recorded_at.isoformat(), kind))
    with open(args.out / "labels.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["clip_file", "person", "camera", "recorded_at", "kind"])
        writer.writerows(rows)
    print(
        f"{len(rows)} clips ({sum(r[1] for r in rows)} with a person) from {len(CAMERAS)} cameras; labels.csv in {args.out}"
    )


if __name__ == "__main__":
    main()

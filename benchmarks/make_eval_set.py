"""Write a small labelled clip set for `python -m inference.evaluate` and the pipeline benchmark.

    .venv/bin/python benchmarks/make_eval_set.py OUT_DIR

No real camera footage is available to this project yet, so these are composites of the
public-domain / CC0 photos in reviewapp/review/demo_data: still scenes (a cat, a coffee cup) with
sensor noise, and the same scenes with a person (the astronaut photo, scaled down) walking
through, at several sizes; plus slow pans. It checks the plumbing and catches gross misses;
it is not a measure of accuracy on surveillance video.
"""

import argparse
import csv
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from reviewapp.review.demo import photo, write_clip

SIZE = (640, 480)


def walker_clip(
    path: Path,
    background: np.ndarray,
    person: np.ndarray | None,
    *,
    seconds: float,
    fps: int,
    person_height: int,
    enter_s: float,
    cross_s: float,
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    w, h = SIZE
    bg = cv2.resize(background, SIZE)
    sprite = None
    if person is not None:
        scale = person_height / person.shape[0]
        sprite = cv2.resize(person, (max(int(person.shape[1] * scale), 1), person_height))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, SIZE)
    for i in range(int(seconds * fps)):
        t = i / fps
        frame = bg.copy()
        if sprite is not None and enter_s <= t <= enter_s + cross_s:
            x = int((t - enter_s) / cross_s * (w - sprite.shape[1]))
            y = h - sprite.shape[0] - 10
            frame[y : y + sprite.shape[0], x : x + sprite.shape[1]] = sprite
        noise = rng.normal(0, 2.0, frame.shape)
        writer.write(np.clip(frame + noise, 0, 255).astype(np.uint8))
    writer.release()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    out = args.out
    (out / "clips").mkdir(parents=True, exist_ok=True)
    astronaut = photo("astronaut")
    rows = []
    n = 0
    for bg_name in ("chelsea", "coffee"):
        bg = photo(bg_name)
        for seed in range(2):
            name = f"clips/{bg_name}-still-{seed}.mp4"
            walker_clip(
                out / name, bg, None, seconds=args.seconds, fps=10, person_height=0, enter_s=0, cross_s=1, seed=seed
            )
            rows.append((name, 0))
        for height in (360, 240, 160):
            n += 1
            name = f"clips/{bg_name}-person-{height}px.mp4"
            walker_clip(
                out / name,
                bg,
                astronaut,
                seconds=args.seconds,
                fps=10,
                person_height=height,
                enter_s=args.seconds / 3,
                cross_s=args.seconds / 3,
                seed=n,
            )
            rows.append((name, 1))
    for name_, label in (("astronaut", 1), ("chelsea", 0), ("coffee", 0)):
        name = f"clips/{name_}-pan.mp4"
        write_clip(out / name, photo(name_), seconds=args.seconds, fps=10, size=SIZE)
        rows.append((name, label))
    with open(out / "labels.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["clip_file", "person"])
        writer.writerows(rows)
    print(f"{len(rows)} clips ({sum(r[1] for r in rows)} with a person) and labels.csv in {out}")


if __name__ == "__main__":
    main()

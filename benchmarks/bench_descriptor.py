"""Which appearance descriptor tells "the same static object again" from "a person at its place"?

    .venv/bin/python benchmarks/bench_descriptor.py [--trials 40]

For several static objects made of the real photos in reviewapp/review/demo_data (a cat, a coffee cup,
stretched to a person's aspect, which is what a detector mistakes for a person; and a drawn
traffic cone) on a noisy background, it describes the object's crop in a first "clip", then:
- SAME: the object in a later clip: new sensor noise, brightness x0.75..1.25, JPEG at quality
  40..90, the box moved by up to 6 px on each side (a detector's jitter);
- PERSON: the astronaut photo standing at the object's place, in front of it (covering 60-100% of
  its box), with the same kinds of change.
It prints, for colour only, shape (gradient orientation) only and the combination used by
`inference.suppression.describe`, the cosine similarity range of each set, the threshold that
separates them best and the error rates at the configured SIMILARITY_MIN. Also the time per box.
"""

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from inference import suppression as S
from reviewapp.review.demo import photo

SIZE = (640, 480)


def background(rng) -> np.ndarray:
    return cv2.GaussianBlur(rng.integers(60, 200, (SIZE[1], SIZE[0], 3), dtype=np.uint8), (31, 31), 0)


def cone(w: int, h: int, under: np.ndarray) -> np.ndarray:
    img = under.copy()
    cv2.fillPoly(img, [np.array([[w // 2, 0], [0, h - 1], [w - 1, h - 1]])], (0, 120, 255))
    for k in range(1, 4):
        cv2.line(img, (0, int(h * k / 4)), (w, int(h * k / 4)), (255, 255, 255), max(h // 20, 2))
    return img


def objects(bg: np.ndarray) -> dict[str, tuple[np.ndarray, tuple[int, int, int, int]]]:
    out = {}
    for name, (w, h, x) in {"cat": (100, 260, 300), "cup": (140, 300, 150), "cone": (90, 200, 450)}.items():
        y = 470 - h
        sprite = (
            cone(w, h, bg[y : y + h, x : x + w])
            if name == "cone"
            else cv2.resize(photo("chelsea" if name == "cat" else "coffee"), (w, h))
        )
        out[name] = (sprite, (x, y, x + w, y + h))
    return out


def person_sprite(w: int, h: int) -> np.ndarray:
    return cv2.resize(photo("astronaut")[:, 20:400], (w, h))


def perturb(img: np.ndarray, rng) -> np.ndarray:
    out = img.astype(np.float32) * rng.uniform(0.75, 1.25) + rng.normal(0, rng.uniform(1, 4), img.shape)
    out = np.clip(out, 0, 255).astype(np.uint8)
    _ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(40, 91))])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def jitter(box, rng, px=6):
    return tuple(v + int(rng.integers(-px, px + 1)) for v in box)


def descriptors(image, box):
    crop = cv2.resize(S._crop(image, box), S.CROP_SIZE, interpolation=cv2.INTER_AREA)
    return {"colour": S.colour_part(crop), "shape": S.shape_part(crop), "combined": S.describe(image, box)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=40)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    same: dict[str, list[float]] = {"colour": [], "shape": [], "combined": []}
    person: dict[str, list[float]] = {"colour": [], "shape": [], "combined": []}
    bg = background(rng)
    for name, (sprite, box) in objects(bg).items():
        x1, y1, x2, y2 = box
        scene = bg.copy()
        scene[y1:y2, x1:x2] = sprite
        ref = descriptors(perturb(scene, rng), box)
        for _ in range(args.trials):
            later = descriptors(perturb(scene, rng), jitter(box, rng))
            for k in same:
                same[k].append(S.similarity(ref[k], later[k]))
            # A person in front of the object: as tall as it, 60-100% of its width, anywhere across it.
            w = x2 - x1
            pw = max(int(w * rng.uniform(0.6, 1.0)), 20)
            px = x1 + int(rng.integers(0, w - pw + 1))
            with_person = scene.copy()
            with_person[y1:y2, px : px + pw] = person_sprite(pw, y2 - y1)
            seen = descriptors(perturb(with_person, rng), jitter((px, y1, px + pw, y2), rng))
            for k in person:
                person[k].append(S.similarity(ref[k], seen[k]))
        print(
            f"{name}: combined SAME min {min(same['combined'][-args.trials :]):.3f}, "
            f"PERSON max {max(person['combined'][-args.trials :]):.3f}"
        )

    print(f"\n{len(same['combined'])} same-object pairs, {len(person['combined'])} person-at-the-spot pairs")
    print(
        f"{'descriptor':<10} {'same min':>9} {'same p5':>8} {'person p95':>10} {'person max':>10} "
        f"{'best cut':>8} {'errors':>7} | at {S.SIMILARITY_MIN}: {'same missed':>11} {'person suppressed':>17}"
    )
    for k in same:
        s, p = np.array(same[k]), np.array(person[k])
        cuts = np.unique(np.concatenate([s, p]))
        errors = [(np.sum(s < c) + np.sum(p >= c), c) for c in cuts]
        best_err, best_cut = min(errors)
        print(
            f"{k:<10} {s.min():9.3f} {np.percentile(s, 5):8.3f} {np.percentile(p, 95):10.3f} {p.max():10.3f} "
            f"{best_cut:8.3f} {best_err:7d} | {'':>5}{np.mean(s < S.SIMILARITY_MIN):11.1%} "
            f"{np.mean(p >= S.SIMILARITY_MIN):17.1%}"
        )

    print("\ncolour weight sweep (cosine = w * colour + (1 - w) * shape):")
    for w in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5):
        s = w * np.array(same["colour"]) + (1 - w) * np.array(same["shape"])
        p = w * np.array(person["colour"]) + (1 - w) * np.array(person["shape"])
        print(f"  w={w:.1f}: same min {s.min():.3f}, person max {p.max():.3f}, margin {s.min() - p.max():+.3f}")

    import timeit

    frame = perturb(bg, rng)
    print("\ndescribe() per box, best of 7 runs (the machine is shared):")
    for label, box in (
        ("person-sized 100x260", (300, 210, 400, 470)),
        ("full frame 640x480", (0, 0, 640, 480)),
        ("small 20x50", (10, 10, 30, 60)),
    ):
        t = min(timeit.repeat(lambda box=box: S.describe(frame, box), number=100, repeat=7)) / 100
        print(f"  {label}: {t * 1e6:.0f} us")


if __name__ == "__main__":
    main()

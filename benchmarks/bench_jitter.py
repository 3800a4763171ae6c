"""How much the detector's score of the same still object moves from one minute's clip to the
next, and how small a person's box can be: the figures behind SUPPRESSION_JITTER and the tiny-box
rule (docs/suppression.md).

    .venv/bin/python benchmarks/bench_jitter.py [--minutes 12] [--seeds 3] [--detector SPEC]

Jitter: `tests/scenes.py` renders consecutive "minutes" of one still view (a cat at a person's
aspect, a cut-off cat at the right edge, a 12 x 12 px blob at the top edge) with what changes
between two clips of a fixed camera: sensor noise, light drifting +-12% with a colour cast, a
fraction of a pixel of sway, JPEG-like compression at a varying quality, then MP4. Each clip goes
through the worker's pipeline (`detect_clip`, 2 fps, MIN_CHANGE); for every place the detector
put a box in the first minute, the place's best score in each minute; printed: |delta| between
consecutive minutes (p50, p90, p99, max) per place and over all of them.

People's sizes: the astronaut at heights from 12 to 96 px walking along the top edge and across
the middle, and standing half hidden at the right edge, through the same pipeline; printed: for
each height the best score and the smallest box (width x height, px of a 640 x 480 frame) of the
detections that overlap the figure.

Small boxes: the 12 px blob's descriptor minute after minute against a 12-48 px figure standing on
it, with the crop widened to 0 / 64 / 96 px around the box (inference.suppression.SMALL_SIZE).
The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from inference import defaults
from inference.detector import load_detector
from inference.pipeline import detect_clip
from inference.suppression import SMALL_SIZE, iou
from tests import scenes

MIN_PLACE_SCORE = 0.05  # the detector's own floor: a place is followed when it ever scores this


def detect(path: Path, detector) -> list:
    result = detect_clip(
        path,
        detector,
        sample_fps=defaults.SAMPLE_FPS,
        min_change=defaults.MIN_CHANGE,
        max_still_s=defaults.MAX_STILL_SECONDS,
        describe_boxes=False,
    )
    return [b for f in result.frames for b in f.boxes if b.label == "person"]


def place_scores(per_minute: list[list]) -> dict[tuple, list[float]]:
    """For each place (the first minute's boxes, grouped by IoU 0.5), its best score in every minute
    (0 when the detector put nothing there: under its own 0.05 floor)."""
    places: list[tuple] = []
    for b in sorted(per_minute[0], key=lambda b: -b.score):
        if not any(iou(p, b.as_list()) >= 0.5 for p in places):
            places.append(tuple(b.as_list()))
    return {
        p: [max((b.score for b in boxes if iou(p, b.as_list()) >= 0.5), default=0.0) for boxes in per_minute]
        for p in places
    }


def jitter(detector, minutes: int, seeds: int, tmp: Path) -> dict:
    deltas: list[float] = []
    drifts: list[float] = []  # |score in minute m - score in minute 0|: how far from the reviewed clip
    print(f"{'seed':>4}  {'place (x1 y1 x2 y2 px)':<24} {'scores':<8} minute by minute")
    for seed in range(seeds):
        per_minute = []
        for m in range(minutes):
            path = scenes.write_minute_clip(tmp / f"s{seed}m{m}.mp4", m, seed=seed)
            per_minute.append(detect(path, detector))
        for place, scores in place_scores(per_minute).items():
            if max(scores) < MIN_PLACE_SCORE or min(scores) == 0.0:
                continue  # a place seen only some minutes is noise, not a still object
            d = np.abs(np.diff(scores))
            deltas.extend(d.tolist())
            drifts.extend(abs(s - scores[0]) for s in scores[1:])
            name = " ".join(f"{v:.0f}" for v in place)
            print(f"{seed:>4}  {name:<24} {' '.join(f'{s:.3f}' for s in scores)}   max |d| {d.max():.3f}")
    d = np.array(deltas)
    figures = {
        "pairs": int(d.size),
        "p50": round(float(np.percentile(d, 50)), 4),
        "p90": round(float(np.percentile(d, 90)), 4),
        "p99": round(float(np.percentile(d, 99)), 4),
        "max": round(float(d.max()), 4),
    }
    r = np.array(drifts)
    figures["from_first"] = {q: round(float(np.percentile(r, int(q[1:]))), 4) for q in ("p50", "p90", "p99")}
    figures["from_first"]["max"] = round(float(r.max()), 4)
    print(
        f"\n|score delta| between consecutive minutes of the same place, {figures['pairs']} pairs: "
        f"p50 {figures['p50']:.3f}  p90 {figures['p90']:.3f}  p99 {figures['p99']:.3f}  max {figures['max']:.3f}"
    )
    f = figures["from_first"]
    print(
        f"|score in a later minute - score in the first (the reviewed clip)|, {r.size} pairs: "
        f"p50 {f['p50']:.3f}  p90 {f['p90']:.3f}  p99 {f['p99']:.3f}  max {f['max']:.3f}"
    )
    return figures


def walker_clip(path: Path, height: int, where: str, seed: int) -> tuple[Path, list[tuple]]:
    """A clip of the still view with the astronaut `height` px tall walking along the top edge
    ("top") or across the middle ("middle"); returns it and the figure's box in each frame."""
    import cv2

    w = max(4, height * 3 // 4)
    sprite = scenes.person(w, height)
    y = 2 if where == "top" else 240 - height // 2
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, scenes.SIZE)
    # The background alone: a box on the figure is then the figure's, not a still object's it passes.
    frames = list(scenes.minute_frames(seed, seconds=4.0, fps=10, seed=seed, still=False))
    boxes = []
    for i, frame in enumerate(frames):
        x = int(60 + 480 * i / (len(frames) - 1))
        writer.write(scenes.paste_clipped(frame, sprite, x, y))
        boxes.append((x, y, x + w, y + height))
    writer.release()
    return path, boxes


def people_sizes(detector, tmp: Path, seeds: int) -> dict:
    print(f"\n{'figure':<14} {'best score':>10}  smallest box of a detection on the figure (px)")
    smallest: dict[str, list[float]] = {}
    for where in ("top", "middle"):
        for height in (12, 16, 20, 24, 32, 48, 64, 96):
            best, small = 0.0, None
            for seed in range(seeds):
                path, figure = walker_clip(tmp / f"{where}{height}s{seed}.mp4", height, where, seed)
                for b in detect(path, detector):
                    if max(iou(b.as_list(), f) for f in figure) < 0.3:
                        continue
                    best = max(best, b.score)
                    size = (b.x2 - b.x1, b.y2 - b.y1)
                    small = size if small is None or size[0] * size[1] < small[0] * small[1] else small
            label = f"{where} {height}px"
            shown = f"{small[0]:.0f} x {small[1]:.0f}" if small else "-"
            print(f"{label:<14} {best:>10.3f}  {shown}")
            if small is not None:
                smallest[label] = [round(small[0], 1), round(small[1], 1), round(best, 3)]
    widths = [v[0] for v in smallest.values()]
    heights = [v[1] for v in smallest.values()]
    out = {"figures": smallest, "min_width": min(widths, default=0), "min_height": min(heights, default=0)}
    print(f"smallest box on a person: {out['min_width']:.0f} px wide, {out['min_height']:.0f} px tall")
    return out


def small_boxes(minutes: int, seeds: int) -> dict:
    """The 12 px blob's descriptor in later minutes (boxes jittered by up to 3 px) against its
    first minute's, and a 12-48 px figure standing on it, for crops widened to 0 (none), 64, 96 px
    around the box (SMALL_SIZE is 64 px of a 640 x 480 frame)."""
    from inference import suppression

    rng = np.random.default_rng(0)
    blob = (198, 0, 216, 13)  # the detector's box on it (19 x 13 px)
    print(f"\n{'context':>7}  {'blob vs its first minute: min':>30}  {'p10':>6}  {'a person on it: max':>20}")
    out = {}
    for context in (0, 64, 96):
        size = (context / 640, context / 480)
        own, person = [], []
        for seed in range(seeds):
            frames = [next(scenes.minute_frames(m, fps=2, seed=seed)) for m in range(minutes)]
            with_size(suppression, size)
            ref = suppression.describe(frames[0], blob)
            for frame in frames[1:]:
                j = [c + int(rng.integers(-3, 4)) for c in blob]
                own.append(suppression.similarity(ref, suppression.describe(frame, [j[0], max(j[1], 0), j[2], j[3]])))
            for height in (12, 16, 24, 36, 48):
                w = max(4, height * 3 // 4)
                for frame in frames[1:4]:
                    image = scenes.paste_clipped(frame, scenes.person(w, height), 207 - w // 2, 1)
                    box = (207 - w // 2 - 3, 0, 207 + w // 2 + 3, height + 2)
                    person.append(suppression.similarity(ref, suppression.describe(image, box)))
        out[context] = {
            "own_min": round(min(own), 3),
            "own_p10": round(float(np.percentile(own, 10)), 3),
            "person_max": round(max(person), 3),
        }
        print(
            f"{context:>7}  {out[context]['own_min']:>30.3f}  {out[context]['own_p10']:>6.3f}  {out[context]['person_max']:>20.3f}"
        )
    with_size(suppression, SMALL_SIZE)
    return out


def with_size(module, size) -> None:
    """Describe with another SMALL_SIZE (0: no surroundings), for the comparison only."""
    module.SMALL_SIZE = size


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=int, default=12)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--detector", default=defaults.DETECTOR)
    args = parser.parse_args()
    detector = load_detector(args.detector)
    tmp = Path(tempfile.mkdtemp(prefix="vigia-bench-jitter-"))
    figures = {"detector": detector.version, "jitter": jitter(detector, args.minutes, args.seeds, tmp)}
    figures["people"] = people_sizes(detector, tmp, args.seeds)
    figures["small_boxes"] = small_boxes(args.minutes, args.seeds)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""What the browser copy of a clip costs the worker: ms per 60 s mp4v clip, and its size.

    python benchmarks/bench_preview.py [--runs 3] [--seconds 60]

Each clip is written with OpenCV's mp4v (what the cameras send) and re-encoded by
`reviewapp.review.preview.encode_preview` with the settings (PREVIEW_MAX_HEIGHT, PREVIEW_CRF,
PREVIEW_PRESET; libx264). Clips:
- still-640: a still camera view (blurred noise scene, sensor noise on every frame) where a
  person (the astronaut photo) walks across, 640x480 at 10 fps: the common camera clip;
- still-720p: the same at 1280x720, 15 fps;
- pan-640: the demo clip (reviewapp/review/demo.py), a slow pan over a photo, 640x480 at 10 fps:
  every pixel moves, the worst case for the encoder.
Prints the median (min..max) wall time of the runs, the CPU time (this process, every thread:
what the worker pays, less sensitive to a busy machine than the wall time), the frames, and the
preview's size over the original's. The ratio depends on the original's bitrate: OpenCV's mp4v
writes about 1.5-4 Mbit/s here, cameras often less.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.project.settings")


def still_clip(path: Path, *, seconds: float, fps: int, size: tuple[int, int]) -> Path:
    import cv2
    import numpy as np

    from reviewapp.review.demo import photo

    w, h = size
    rng = np.random.default_rng(0)
    scene = cv2.GaussianBlur(rng.integers(60, 200, (h, w, 3), dtype=np.uint8), (31, 31), 0).astype(np.int16)
    walker = cv2.resize(photo("astronaut")[:, 20:400], (w // 6, h // 2))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    frames = int(seconds * fps)
    for i in range(frames):
        frame = np.clip(scene + rng.normal(0, 2.0, scene.shape), 0, 255).astype(np.uint8)
        x = int((w - walker.shape[1]) * i / max(frames - 1, 1))
        frame[h // 3 : h // 3 + walker.shape[0], x : x + walker.shape[1]] = walker
        writer.write(frame)
    writer.release()
    return path


def pan_clip(path: Path, *, seconds: float) -> Path:
    from reviewapp.review.demo import photo, write_clip

    return write_clip(path, photo("chelsea"), seconds=seconds, fps=10)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

    from reviewapp.review import preview

    print(
        f"encoder {preview.ENCODER}, max height {settings.PREVIEW_MAX_HEIGHT}, CRF {settings.PREVIEW_CRF}, "
        f"preset {settings.PREVIEW_PRESET}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
        f"{args.seconds:.0f} s clips"
    )
    with tempfile.TemporaryDirectory(prefix="bench-preview-") as tmp:
        tmp = Path(tmp)
        clips = {
            "still-640": still_clip(tmp / "still-640.mp4", seconds=args.seconds, fps=10, size=(640, 480)),
            "still-720p": still_clip(tmp / "still-720p.mp4", seconds=args.seconds, fps=15, size=(1280, 720)),
            "pan-640": pan_clip(tmp / "pan-640.mp4", seconds=args.seconds),
        }
        print(
            f"{'clip':<11} {'wall ms/clip median (min..max)':>31} {'CPU ms/clip':>12} {'frames':>7} {'size ratio':>10}"
        )
        for name, src in clips.items():
            walls, cpus, result = [], [], None
            for _ in range(args.runs):
                started, cpu = time.perf_counter(), cpu_seconds()
                result = preview.encode_preview(
                    src,
                    tmp / f"{name}.preview.mp4",
                    max_height=settings.PREVIEW_MAX_HEIGHT,
                    crf=settings.PREVIEW_CRF,
                    preset=settings.PREVIEW_PRESET,
                )
                walls.append((time.perf_counter() - started) * 1000)
                cpus.append((cpu_seconds() - cpu) * 1000)
            ratio = result.size_bytes / src.stat().st_size
            wall = f"{statistics.median(walls):.0f} ({min(walls):.0f}..{max(walls):.0f})"
            print(
                f"{name:<11} {wall:>31} {statistics.median(cpus):>12.0f} {result.frames:>7} {ratio:>10.2f}"
                f"   ({src.stat().st_size / 1e6:.1f} MB -> {result.size_bytes / 1e6:.2f} MB,"
                f" {result.width}x{result.height})"
            )


if __name__ == "__main__":
    main()

"""What a huge clip costs the web process before and after the ingest bounds (issue 12).

    .venv/bin/python benchmarks/bench_ingest_limits.py [--size 6000] [--frames 10]

Writes a flat grey MPEG-4 clip of SIZE x SIZE px (PyAV, a few hundred KB), then in a fresh
process each: imports only (the baseline), `probe` without limits (what ingest did: it opens
the file and decodes the first and the last frame), and `probe` with the default VideoLimits
(refused from the MP4 header). Prints each one's peak RSS (VmHWM) and wall time.
"""

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = """
import sys
from inference.video import InvalidVideo, VideoLimits, probe
mode, path = sys.argv[1], sys.argv[2]
try:
    if mode == "unbounded":
        print(probe(path))
    elif mode == "bounded":
        print(probe(path, limits=VideoLimits()))
except InvalidVideo as exc:
    print("refused:", exc)
# VmHWM: this process's peak resident memory since its exec (kB), the figure a web worker pays.
print([line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")][0])
"""


def write(path: Path, size: int, frames: int) -> Path:
    import av
    import numpy as np

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        image = np.full((size, size, 3), 128, np.uint8)
        for _ in range(frames):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        out.mux(stream.encode())
    return path


def run(mode: str, path: Path) -> tuple[float, float, str]:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(path)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - start
    *said, peak_kb = out.stdout.strip().splitlines()
    return int(peak_kb) / 1024, seconds, " ".join(said)[:90]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=6000)
    parser.add_argument("--frames", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp) / "huge.mp4", args.size, args.frames)
        print(f"clip: {args.size}x{args.size} px, {args.frames} frames, {path.stat().st_size / 1e3:.0f} KB")
        for mode in ("imports", "bounded", "unbounded"):
            rss, seconds, said = run(mode, path)
            print(f"{mode:>10}: peak RSS {rss:7.0f} MB  {seconds:5.2f} s  {said}")


if __name__ == "__main__":
    main()

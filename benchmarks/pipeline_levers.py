"""The speed levers of issue #13 side by side, on one clip, in one run (bench_pipeline --levers).

For each configuration: detect_clip's wall time against the clip's sampled decode (OpenCV
grabbing and converting its SAMPLE_FPS samples, nothing else), its split (decode, detector,
descriptors), and the decision `decide_clip` gives on its frames: a lever that claims to be
exact must give the same score to the last digit. First, where the detector's time goes
(pre-processing, the onnxruntime session, post-processing), frame by frame.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from inference import detector as registry
from inference.decision import decide_clip
from inference.detector import DetectorUnavailable
from inference.detectors.plugins.centernet import CenterNetDetector, decode_person_boxes, preprocess
from inference.pipeline import detect_clip
from inference.suppression import rule_floor
from inference.video import sample_frames

# (label, runtime, onnxruntime threads (0: one per core), batch, frames decoded ahead)
CONFIGS = (
    ("before: fp32, 1 frame a call, decode inline", "onnxruntime", 0, 1, 0),
    ("fp32, 1 onnxruntime thread", "onnxruntime", 1, 1, 0),
    ("fp32, batch 8", "onnxruntime", 0, 8, 0),
    ("fp32, decode ahead (thread + queue of 4)", "onnxruntime", 0, 1, 4),
    ("fp32, decode ahead, 1 onnxruntime thread", "onnxruntime", 1, 1, 4),
    ("int8, decode inline", "onnxruntime-int8", 0, 1, 0),
    ("int8, decode ahead", "onnxruntime-int8", 0, 1, 4),
)
ROUNDS = 3  # the configurations run in turn, round after round: the load of the machine drifts


def sampled_decode_s(video: Path, fps: float) -> float:
    t0 = time.perf_counter()
    for _ in sample_frames(video, fps=fps):
        pass
    return time.perf_counter() - t0


def split(video: Path, fps: float, runtime: str) -> None:
    """Per frame: pre-processing, the session's run, post-processing (one thread, no decode)."""
    frames = [f.image for f in sample_frames(video, fps=fps)]
    det = CenterNetDetector(input_size=320, runtime=runtime)
    det.detect(frames[:1])
    pre = net = post = 0.0
    for image in frames:
        t0 = time.perf_counter()
        batch = preprocess([image], 320)
        t1 = time.perf_counter()
        heat, wh = det.raw_outputs(batch)
        t2 = time.perf_counter()
        decode_person_boxes(heat[0], wh[0], 320, (image.shape[1], image.shape[0]), det.min_score)
        post += time.perf_counter() - t2
        pre, net = pre + t1 - t0, net + t2 - t1
    n = len(frames)
    print(
        f"  {runtime}: {n} frames; pre-processing {pre:.2f} s ({pre / n * 1e3:.1f} ms a frame), "
        f"session {net:.2f} s ({net / n * 1e3:.1f} ms), post-processing {post:.2f} s ({post / n * 1e3:.1f} ms)"
    )


def run(video: Path, settings, config) -> tuple[float, object, float]:
    """One detect_clip of `config`: its wall time, its result, and the decision's score."""
    _label, runtime, threads, batch, ahead = config
    registry.set_threads(threads)
    det = CenterNetDetector(input_size=320, runtime=runtime)
    det.detect([np.zeros((480, 640, 3), np.uint8)])  # a worker's first frame is behind it
    registry.set_threads(0)
    floor = rule_floor(settings.THRESHOLD, settings.REVIEW_BAND, settings.SUPPRESSION_JITTER)
    t0 = time.perf_counter()
    result = detect_clip(
        video,
        det,
        sample_fps=settings.SAMPLE_FPS,
        batch_size=batch,
        min_change=settings.MIN_CHANGE,
        max_still_s=settings.MAX_STILL_SECONDS,
        describe_min_score=floor,
        decode_ahead=ahead,
    )
    wall = time.perf_counter() - t0
    decision = decide_clip(
        result.frames,
        rules=[],
        threshold=settings.THRESHOLD,
        review_band=settings.REVIEW_BAND,
        now=datetime.now(UTC),
        sampled=result.sampled,
    )
    return wall, result, decision


def _runnable(runtime: str) -> bool:
    try:
        CenterNetDetector(input_size=320, runtime=runtime)
    except DetectorUnavailable as exc:  # the int8 file is made from project clips, not fetched
        print(f"  {runtime}: skipped ({exc})")
        return False
    return True


def levers(video: Path, settings) -> None:
    fps = settings.SAMPLE_FPS
    print("where the detector's time goes (no decode):")
    runtimes = [r for r in ("onnxruntime", "onnxruntime-int8") if _runnable(r)]
    for runtime in runtimes:
        split(video, fps, runtime)
    configs = [c for c in CONFIGS if c[1] in runtimes]
    runs: dict[str, list] = {c[0]: [] for c in configs}
    decodes = []
    for _ in range(ROUNDS):
        decodes.append(sampled_decode_s(video, fps))
        for config in configs:
            runs[config[0]].append(run(video, settings, config))
    decode = statistics.median(decodes)
    print(f"sampled decode ({fps:g} fps, OpenCV alone), median of {ROUNDS}: {decode:.2f} s")
    print(f"detect_clip, each configuration, median of {ROUNDS} rounds (ratio: its wall time / the sampled decode):")
    for label, results in runs.items():
        wall, result, decision = sorted(results, key=lambda r: r[0])[len(results) // 2]
        same = len({(r[2].score, r[2].alert, r[2].outcome) for r in results}) == 1
        print(
            f"  {label:44s} {wall:5.2f} s = {wall / decode:4.1f}x | decode {result.decode_s:4.2f} "
            f"detector {result.detect_s:4.2f} descriptors {result.describe_s:4.2f} | {len(result.frames)} of "
            f"{result.sampled} frames | score {decision.score:.4f} alert {decision.alert} {decision.outcome}"
            f"{'' if same else ' (rounds differ!)'}"
        )

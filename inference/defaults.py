"""Defaults shared by the Django settings and the command-line tools, so that the evaluation and
replay tools process clips exactly as the worker does. Each can be overridden by the same
environment variable in both places."""

import os

SAMPLE_FPS = 2.0
# CenterNet at 320x320, run by onnxruntime: the same outputs as torch, 15-35% faster (docs/figures.md).
DETECTOR = "centernet:320:onnxruntime"
THRESHOLD = 0.25  # from the evaluation in docs/detector.md: recall first, reviewers see the rest
# Batches of 8 were slower per frame than single frames on 2 cores (benchmarks/bench_detector.py).
DETECT_BATCH = 1
# Skip a sampled frame when less than this share of it changed since the last detected frame
# (0 detects every sampled frame); a still scene is detected again every MAX_STILL_SECONDS.
MIN_CHANGE = 0.002
MAX_STILL_SECONDS = 10.0
# A clip this close to its camera's threshold (either side) goes to review.
REVIEW_BAND = 0.15
# Suppression rules (inference.suppression.rule_floor): the most a still object's score moves
# from one minute's clip to the next (p99 of |delta|, benchmarks/bench_jitter.py,
# docs/suppression.md): rules cover every false detection down to this far under the threshold;
# at most this many rules from one review; a rule expires after this many days (0: never).
SUPPRESSION_JITTER = 0.045
SUPPRESSION_MAX_RULES_PER_REVIEW = 10
SUPPRESSION_RULE_DAYS = 30.0
# The verifier learns from (and is asked about) boxes scoring at least this: lower peaks are
# background texture (inference.verifier).
VERIFIER_MIN_SCORE = 0.15


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a number") from None

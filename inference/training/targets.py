"""CenterNet's training targets for one image, on the heat map's grid (1/4 of the input):

- a person box puts a Gaussian peak (value 1 at its centre cell, radius from the box's size as in
  CenterNet) on the heat map, and its four side distances (input pixels) at that cell;
- everywhere else the heat map's target is 0 (background); inside a confirmed false positive's
  box (a hard negative) the background term gets an extra cross-entropy weighted `hard_weight`
  (losses.focal_loss), since that is where the heat map must go down.
Boxes come in frame pixels and are stretched to the square input as the detector stretches frames.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

HARD_WEIGHT = 1.0
MIN_OVERLAP = 0.7  # CenterNet's gaussian_radius parameter


@dataclass
class Targets:
    heat: np.ndarray  # (h, w) float32, 0..1, peaks 1 at person centres
    weight: np.ndarray  # (h, w) float32: the hard-negative weight (0, or `hard_weight` in false boxes)
    centres: np.ndarray  # (K, 2) int64 rows, cols of the person centres
    sides: np.ndarray  # (K, 4) float32 left, top, right, bottom distances in input pixels


def gaussian_radius(height: float, width: float, min_overlap: float = MIN_OVERLAP) -> float:
    """CenterNet's radius: the largest corner shift keeping IoU >= min_overlap (3 cases)."""
    a1, b1 = 1, height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(b1**2 - 4 * a1 * c1)) / 2
    a2, b2 = 4, 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + math.sqrt(b2**2 - 4 * a2 * c2)) / 2
    a3, b3 = 4 * min_overlap, -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + math.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return min(r1, r2, r3)


def draw_gaussian(heat: np.ndarray, row: int, col: int, radius: int) -> None:
    sigma = (2 * radius + 1) / 6
    ys, xs = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    g = np.exp(-(xs * xs + ys * ys) / (2 * sigma * sigma)).astype(np.float32)
    h, w = heat.shape
    top, bottom = min(row, radius), min(h - row, radius + 1)
    left, right = min(col, radius), min(w - col, radius + 1)
    region = heat[row - top : row + bottom, col - left : col + right]
    patch = g[radius - top : radius + bottom, radius - left : radius + right]
    np.maximum(region, patch, out=region)


def scale(box: Sequence[float], frame_size: tuple[int, int], input_size: int) -> tuple[float, float, float, float]:
    sx, sy = input_size / frame_size[0], input_size / frame_size[1]
    return box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy


def make_targets(
    boxes: Sequence[Sequence[float]],
    false_boxes: Sequence[Sequence[float]],
    *,
    frame_size: tuple[int, int],
    input_size: int,
    grid: int,
    hard_weight: float = HARD_WEIGHT,
) -> Targets:
    """The targets of one image: `boxes` people, `false_boxes` confirmed false positives (frame px)."""
    stride = input_size / grid
    heat = np.zeros((grid, grid), np.float32)
    weight = np.zeros((grid, grid), np.float32)
    for box in false_boxes:
        x1, y1, x2, y2 = (v / stride for v in scale(box, frame_size, input_size))
        r1, r2 = max(0, math.floor(y1)), min(grid, math.ceil(y2))
        c1, c2 = max(0, math.floor(x1)), min(grid, math.ceil(x2))
        weight[r1:r2, c1:c2] = hard_weight
    centres, sides = [], []
    for box in boxes:
        x1, y1, x2, y2 = scale(box, frame_size, input_size)
        if x2 - x1 < 1 or y2 - y1 < 1:
            continue
        col = min(grid - 1, max(0, round((x1 + x2) / 2 / stride)))
        row = min(grid - 1, max(0, round((y1 + y2) / 2 / stride)))
        radius = max(0, int(gaussian_radius((y2 - y1) / stride, (x2 - x1) / stride)))
        draw_gaussian(heat, row, col, radius)
        cx, cy = col * stride, row * stride  # the graph measures the sides from the cell's corner point
        centres.append((row, col))
        sides.append((cx - x1, cy - y1, x2 - cx, y2 - cy))
    return Targets(
        heat,
        weight,
        np.asarray(centres, np.int64).reshape(-1, 2),
        np.asarray(sides, np.float32).reshape(-1, 4),
    )


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def kept_boxes(
    labelled: Sequence[Sequence[float]],
    original: Sequence[Sequence[float]],
    false_boxes: Sequence[Sequence[float]],
    *,
    min_score: float,
) -> list[list[float]]:
    """Anti-forgetting: the labelled people plus the original model's own confident boxes
    (x1, y1, x2, y2, score) on a frame a reviewer confirmed, unless they overlap a labelled
    person (already there) or a confirmed false positive (that one must go down)."""
    out = [list(b[:4]) for b in labelled]
    for box in original:
        if box[4] < min_score:
            continue
        if any(iou(box, b) > 0.3 for b in [*out, *false_boxes]):
            continue
        out.append(list(box[:4]))
    return out

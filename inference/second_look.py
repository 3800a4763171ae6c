"""A second look at uncertain clips: the first pass runs at the working size; a clip whose best
score lies in the camera's review band (neither clearly a person nor clearly not) gets a second
pass on the frames that decided it — a larger detector (CenterNet at 512), or the same one on
overlapping tiles of the frame, for small distant people — and the decision is taken on that
second pass. Only the uncertain clips pay for it.

`decide_twice` is the one place that says when a clip gets the second look and which pass decides
it; the rule itself stays `inference.decision.decide_clip`, run on either pass with the same
rules and threshold. The worker (SECOND_LOOK, reviewapp.review.processing), `inference.evaluate
--second-look SPEC` and `inference.replay --second-look SPEC` all decide through it.
`benchmarks/bench_second_look.py` measures the margin and the cost (docs/detector.md). No Django here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inference.decision import ClipDecision, Veto, decide_clip
from inference.detector import PERSON, Box, Detector
from inference.pipeline import FrameResult
from inference.suppression import describe_many, iou
from inference.video import Frame, read_frame

DEFAULT_SPEC = "centernet:512:onnxruntime"
DEFAULT_FRAMES = 3  # the deciding frames: the ones with the best first-pass person scores
TILE_OVERLAP = 0.25  # each tile reaches this share of its width (height) into its neighbour
NMS_IOU = 0.5  # a tile's box and the full frame's (or a neighbour tile's) box are the same one above this


def best_score(boxes: Sequence[Box]) -> float:
    return max((b.score for b in boxes if b.label == PERSON), default=0.0)


def parse_spec(spec: str) -> tuple[str, int]:
    """A SECOND_LOOK value: "DETECTOR_SPEC" (the larger detector on the whole frame) or
    "tiles:N:DETECTOR_SPEC" (N x N overlapping tiles, N 2..4, merged with the frame's first-pass
    boxes). (detector spec, tiles; 1 for the whole frame). ValueError on a malformed value; whether
    the detector exists is `load_detector`'s to say."""
    tiles = 1
    if spec.startswith("tiles:"):
        _, n, spec = spec.split(":", 2) if spec.count(":") >= 2 else (None, "", "")
        if not n.isdigit() or not 2 <= int(n) <= 4 or not spec:
            raise ValueError("tiles: give tiles:N:DETECTOR with N from 2 to 4, e.g. tiles:2:centernet:320:onnxruntime")
        tiles = int(n)
    if not spec or not spec.split(":", 1)[0]:
        raise ValueError(f"no detector in {spec!r}: give a detector spec such as {DEFAULT_SPEC}")
    return spec, tiles


def tile_boxes(width: int, height: int, n: int, overlap: float = TILE_OVERLAP) -> list[tuple[int, int, int, int]]:
    """n x n tiles (x1, y1, x2, y2) covering the frame, each reaching `overlap` of its size into its neighbour."""
    tw, th = min(width, int(np.ceil(width / n * (1 + overlap)))), min(height, int(np.ceil(height / n * (1 + overlap))))
    xs = np.linspace(0, width - tw, n).round().astype(int)
    ys = np.linspace(0, height - th, n).round().astype(int)
    return [(int(x), int(y), int(x) + tw, int(y) + th) for y in ys for x in xs]


def merge(boxes: Sequence[Box], iou_min: float = NMS_IOU) -> list[Box]:
    """Greedy NMS per label: the best box of each group overlapping above `iou_min`."""
    kept: list[Box] = []
    for b in sorted(boxes, key=lambda b: -b.score):
        if all(k.label != b.label or iou(k.as_list(), b.as_list()) < iou_min for k in kept):
            kept.append(b)
    return kept


@dataclass
class Tiled:
    """A detector run on n x n overlapping tiles of each frame, each tile at the detector's own
    input size (so a small distant person is n times larger to it), its boxes mapped back to the
    frame and merged by NMS."""

    detector: Detector
    n: int = 2

    @property
    def name(self) -> str:
        return f"tiles{self.n}x{self.n}"

    @property
    def version(self) -> str:
        return f"tiles:{self.n}:{self.detector.version}"

    def detect(self, frames: Sequence[np.ndarray]) -> list[list[Box]]:
        crops, where = [], []
        for i, image in enumerate(frames):
            for x1, y1, x2, y2 in tile_boxes(image.shape[1], image.shape[0], self.n):
                crops.append(np.ascontiguousarray(image[y1:y2, x1:x2]))
                where.append((i, x1, y1))
        out: list[list[Box]] = [[] for _ in frames]
        for (i, dx, dy), boxes in zip(where, self.detector.detect(crops)):
            out[i].extend(Box(b.x1 + dx, b.y1 + dy, b.x2 + dx, b.y2 + dy, b.score, b.label) for b in boxes)
        return [merge(boxes) for boxes in out]


@dataclass
class SecondLook:
    detector: Detector  # the larger detector, or `Tiled`
    frames: int = DEFAULT_FRAMES
    tiles: int = 1  # 1: `detector` on the whole frame; n: `detector` is Tiled, merged with the first pass
    seconds: float = 0.0  # decode + detect + describe time spent, over every look
    looks: int = 0
    # Looks already taken, by (clip file, describe_min_score): the replay decides each clip once per
    # strategy, and the look depends on the first pass alone.
    _taken: dict = field(default_factory=dict, repr=False)

    @property
    def version(self) -> str:
        return self.detector.version

    def needed(self, score: float, threshold: float, band: float) -> bool:
        """Is a clip with this first-pass score uncertain (in the review band, either side)?"""
        return score > 0 and abs(score - threshold) <= band

    def look(
        self,
        path: str | Path,
        frames: Sequence[FrameResult],
        *,
        describe_min_score: float,
        on_frame: Callable[[Frame, list[Box]], None] | None = None,
    ) -> list[FrameResult]:
        """The deciding frames (best first-pass person scores, at most `frames`) decoded again
        and detected by the second detector, with descriptors of its person boxes from
        `describe_min_score` up, in time order: the frames to decide the clip on. On tiles, a
        frame's boxes are the tiles' and the first pass's, merged (a person larger than a tile
        is still seen whole). `on_frame` as detect_clip's (the verifier's crops of this pass)."""
        key = (str(path), describe_min_score)
        if on_frame is None and key in self._taken:
            return self._taken[key]
        t0 = time.perf_counter()
        ranked = sorted(range(len(frames)), key=lambda i: -best_score(frames[i].boxes))[: self.frames]
        chosen = [frames[i] for i in sorted(ranked)]
        images = [read_frame(path, f.index) for f in chosen]
        out = []
        for f, image, boxes in zip(chosen, images, self.detector.detect(images)):
            if self.tiles > 1:
                boxes = merge([*boxes, *f.boxes])
            wanted = [i for i, b in enumerate(boxes) if b.label == PERSON and b.score >= describe_min_score]
            descriptors: list = [None] * len(boxes)
            for i, d in zip(wanted, describe_many(image, [boxes[i] for i in wanted])):
                descriptors[i] = d
            out.append(FrameResult(f.index, f.time, boxes, descriptors, (image.shape[1], image.shape[0])))
            if on_frame is not None:
                on_frame(Frame(f.index, f.time, image), boxes)
        self.seconds += time.perf_counter() - t0
        self.looks += 1
        self._taken[key] = out
        return out


def second_look_from_spec(spec: str, frames: int, load: Callable[[str], Detector]) -> SecondLook:
    """The SecondLook of a SECOND_LOOK value (`parse_spec`), its detector built by `load`
    (`inference.detector.load_detector`: once per process). ValueError / DetectorUnavailable."""
    detector_spec, tiles = parse_spec(spec)
    if frames < 1:
        raise ValueError(f"the second look needs at least one frame, not {frames}")
    detector = load(detector_spec)
    return SecondLook(Tiled(detector, tiles) if tiles > 1 else detector, frames=frames, tiles=tiles)


@dataclass(frozen=True)
class Look:
    """What the second look did to one clip: the first pass's decision, the second's, its time."""

    first: ClipDecision
    second: ClipDecision
    frames: list[FrameResult]  # what the second pass saw: the frames `second` was decided on
    seconds: float
    detector: str

    @property
    def changed(self) -> bool:
        return self.first.alert != self.second.alert


def decide_twice(
    path: str | Path,
    frames: Sequence[FrameResult],
    *,
    second: SecondLook | None,
    describe_min_score: float,
    prepare: Callable[[Sequence[FrameResult]], Sequence[FrameResult]] | None = None,
    second_verifier: Veto | None = None,
    on_second_frame: Callable[[Frame, list[Box]], None] | None = None,
    **decide_kwargs,
) -> tuple[ClipDecision, Look | None]:
    """The clip's decision: `decide_clip(frames, **decide_kwargs)` on the first pass and, when
    `second` is given and that pass's score lies in the review band of the threshold, on the
    second look at its deciding frames, with the same rules and threshold (no other clip's
    frames: nothing looks ahead). (the decision, the Look or None when there was none).
    `prepare` turns each pass's frames into what the worker would have (the replay drops the
    descriptors the worker would not have taken). A verifier's veto needs crops of each pass's
    own boxes: `second_verifier` is asked on the second pass (fed by `on_second_frame`) instead
    of decide_kwargs' `verifier`."""

    def run(fs: Sequence[FrameResult], **extra) -> ClipDecision:
        return decide_clip(prepare(fs) if prepare is not None else fs, **{**decide_kwargs, **extra})

    first = run(frames)
    if second is None or not second.needed(first.score, decide_kwargs["threshold"], decide_kwargs["review_band"]):
        return first, None
    t0 = second.seconds
    looked = second.look(path, frames, describe_min_score=describe_min_score, on_frame=on_second_frame)
    decision = run(looked, verifier=second_verifier, sampled=None)  # its few frames count once each
    return decision, Look(first, decision, looked, second.seconds - t0, second.version)

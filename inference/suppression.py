"""Known false positives: "this thing, at this place of this camera, is not a person".

A reviewer who decides "no person" on a clip can turn its false detections into rules. A later
detection on the same camera is suppressed when it is at the same place (IoU of the boxes,
normalised to the frame so that a change of stream resolution does not matter) AND looks like
what the rule was made from (cosine similarity of an appearance descriptor of the crop). The
appearance test is what lets a person walking past the parked car still alert: their box may
overlap the car's, but their crop does not look like the car.

The descriptor (`describe`) is deliberately simple and cheap (0.2-0.6 ms a box, no model) and
is taken of the crop (a small box's with its surroundings: SMALL_SIZE) resized to 48x48:
- colour: a hue x saturation histogram, plus a small brightness histogram for grey pixels, of the
  crop in HSV; hue and saturation change little from clip to clip under the same light;
- shape: a 4x4 grid of 9-bin gradient-orientation histograms (HOG-like) of the grey crop,
  normalised as a whole, so that a change of brightness or contrast does not move it.
Both parts are L2-normalised and weighted (colour 0.2, shape 0.8), so the cosine of two
descriptors is a weighted mean of the colour and shape cosines. `benchmarks/bench_descriptor.py`
measures it against colour-only and shape-only on real crops (docs/suppression.md).

No Django here: the worker, the replay and the benchmarks use the same functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import cv2
import numpy as np

from inference.detector import PERSON, Box

DESCRIPTOR_VERSION = 1  # bump when `describe` changes: rules made with another version never match
CROP_SIZE = (48, 48)  # width, height the crop is resized to before describing it
HUE_BINS, SAT_BINS, GREY_BINS = 12, 4, 4
MIN_SATURATION = 40  # 0..255: below this a pixel's hue is noise; it counts in the grey histogram
GRID, ORIENTATIONS = 4, 9
# Share of the cosine that comes from colour; the rest from shape. Shape separates better (and a
# night-time infrared view has no colour at all): benchmarks/bench_descriptor.py sweeps it.
COLOUR_WEIGHT = 0.2
DESCRIPTOR_SIZE = HUE_BINS * SAT_BINS + GREY_BINS + GRID * GRID * ORIENTATIONS

# Defaults measured with benchmarks/bench_descriptor.py: the same static object in later clips
# (new noise, JPEG, +-25% brightness, 6 px of box jitter) stays above 0.92; a person standing in
# front of it stays below 0.78; 0.85 is about halfway. Detector boxes of a still object jitter by a
# few pixels, far inside IoU 0.5.
IOU_MIN = 0.5
SIMILARITY_MIN = 0.85

# Small boxes. The crop of a 12 px box is a few pixels blown up to 48x48: its descriptor is noise
# (the same blob in later minutes: cosine down to 0.49; a 12-48 px person standing on it: 0.71).
# So a box narrower (shorter) than SMALL_SIZE, a share of the frame (64 px of 640 x 480), is
# described with its surroundings: the crop is widened (heightened) to that size around the box's
# centre. Then the blob stays >= 0.775 and a person on it <= 0.727 (benchmarks/bench_jitter.py),
# and a rule made at a place small both ways asks SMALL_SIMILARITY_MIN, halfway. A place
# and size rule with no appearance at all was measured and refused: a 12 px figure's box is as
# small as the blob's (15 x 12 px) and scores as much (0.10-0.15), docs/suppression.md.
SMALL_SIZE = (64 / 640, 64 / 480)
SMALL_SIMILARITY_MIN = 0.75

NormBox = tuple[float, float, float, float]


def is_small(box: Sequence[float], size: tuple[float, float] | None = None) -> bool:
    """Is this normalised box smaller than `size` (by default SMALL_SIZE) both ways?"""
    w, h = size or SMALL_SIZE
    return box[2] - box[0] < w and box[3] - box[1] < h


def similarity_for(box: Sequence[float], similarity_min: float = SIMILARITY_MIN) -> float:
    """The appearance tolerance of a new rule at this (normalised) place: SMALL_SIMILARITY_MIN
    (or the stricter configured one) at a small place, whose descriptor includes its surroundings."""
    return min(similarity_min, SMALL_SIMILARITY_MIN) if is_small(box) else similarity_min


def _with_context(coords: list[float], frame_w: int, frame_h: int) -> list[float]:
    """The box widened / heightened to SMALL_SIZE around its centre, moved inside the frame."""
    out = list(coords)
    for lo, full, share in ((0, frame_w, SMALL_SIZE[0]), (1, frame_h, SMALL_SIZE[1])):
        need = min(share * full, full)
        if out[lo + 2] - out[lo] < need:
            start = min(max((out[lo] + out[lo + 2] - need) / 2, 0.0), full - need)
            out[lo], out[lo + 2] = start, start + need
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


def _crop(image: np.ndarray, box: Box | Sequence[float]) -> np.ndarray | None:
    x1, y1, x2, y2 = box.as_list() if isinstance(box, Box) else box
    h, w = image.shape[:2]
    x1, x2 = max(0, int(np.floor(x1))), min(w, int(np.ceil(x2)))
    y1, y2 = max(0, int(np.floor(y1))), min(h, int(np.ceil(y2)))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    return image[y1:y2, x1:x2]


def colour_part(crop: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(crop, cv2.COLOR_BGR2HSV).reshape(-1, 3).astype(np.int32)
    h, sat, v = hsv[:, 0], hsv[:, 1], hsv[:, 2]
    coloured = sat >= MIN_SATURATION
    # One bincount: coloured pixels by (hue, saturation), grey ones after them by brightness.
    index = np.where(
        coloured,
        (h * HUE_BINS // 180) * SAT_BINS + np.maximum(sat - MIN_SATURATION, 0) * SAT_BINS // (256 - MIN_SATURATION),
        HUE_BINS * SAT_BINS + v * GREY_BINS // 256,
    )
    counts = np.bincount(index, minlength=HUE_BINS * SAT_BINS + GREY_BINS).astype(np.float32)
    hs = counts[: HUE_BINS * SAT_BINS].reshape(HUE_BINS, SAT_BINS)
    grey = counts[HUE_BINS * SAT_BINS :]
    # Spread each bin into its neighbours (hue is circular): a colour near a bin edge, pushed across
    # it by a change of exposure or compression, then still shares most of its mass.
    hs = hs + 0.5 * (np.roll(hs, 1, axis=0) + np.roll(hs, -1, axis=0))
    spread = hs.copy()
    spread[:, 1:] += 0.5 * hs[:, :-1]
    spread[:, :-1] += 0.5 * hs[:, 1:]
    g = grey.copy()
    g[1:] += 0.5 * grey[:-1]
    g[:-1] += 0.5 * grey[1:]
    hist = np.concatenate([spread.ravel(), g])
    return _unit(np.sqrt(hist / max(float(hist.sum()), 1.0)))


def shape_part(crop: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float32)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.sqrt(gx * gx + gy * gy)
    angle = np.mod(np.arctan2(gy, gx), np.pi)  # unsigned: dark-on-light and light-on-dark alike
    bins = np.minimum((angle * ORIENTATIONS / np.pi).astype(np.int32), ORIENTATIONS - 1)
    h, w = grey.shape
    # One bincount over (cell, orientation) pairs instead of a loop over cells.
    cell_row = (np.arange(h) * GRID // h)[:, None]
    cell_col = (np.arange(w) * GRID // w)[None, :]
    index = ((cell_row * GRID + cell_col) * ORIENTATIONS + bins).ravel()
    hist = np.bincount(index, weights=magnitude.ravel(), minlength=GRID * GRID * ORIENTATIONS).astype(np.float32)
    # One normalisation for the whole crop: a change of contrast scales every cell alike and cancels
    # out; per-cell normalisation would blow up the sensor noise of flat cells (a car's bonnet).
    # No square root here (unlike colour): it squeezed every cosine towards 1 and halved the margin
    # between "the same object" and "a person in front of it" (bench_descriptor.py).
    return _unit(hist)


def describe(image: np.ndarray, box: Box | Sequence[float]) -> np.ndarray:
    """Appearance descriptor of the box's crop of a BGR frame: float32, 1-D, L2-normalised.

    A box with (almost) no pixels inside the frame gives a zero vector, which matches nothing.
    """
    return describe_many(image, [box])[0]


def describe_many(image: np.ndarray, boxes: Sequence[Box | Sequence[float]]) -> list[np.ndarray]:
    """`describe` for several boxes of one frame, sharing an image pyramid.

    A big box is cropped from a half-, quarter-... size copy of the frame (cv2.pyrDown: blurred,
    so no aliasing) so that the final resize to CROP_SIZE starts from less than twice its size:
    a full-frame box then costs about as much as a small one (resizing a 640x480 crop straight
    to 48x48 with INTER_AREA took ~1.5 ms, the rest of the descriptor ~0.2 ms)."""
    pyramid = [image]
    out = []
    for box in boxes:
        coords = _with_context(box.as_list() if isinstance(box, Box) else list(box), image.shape[1], image.shape[0])
        w, h = coords[2] - coords[0], coords[3] - coords[1]
        level = 0
        while min(w, h) / 2 ** (level + 1) >= min(CROP_SIZE) and level < 4:
            level += 1
        while len(pyramid) <= level:
            pyramid.append(cv2.pyrDown(pyramid[-1]))
        scale = 2**level
        crop = _crop(pyramid[level], [c / scale for c in coords])
        if crop is None:
            out.append(np.zeros(DESCRIPTOR_SIZE, np.float32))
            continue
        # At most a 2x reduction is left after the pyramid: bilinear is enough, and much cheaper
        # than INTER_AREA's general (non-integer ratio) path.
        crop = cv2.resize(crop, CROP_SIZE, interpolation=cv2.INTER_LINEAR)
        colour = colour_part(crop) * np.sqrt(COLOUR_WEIGHT)
        shape = shape_part(crop) * np.sqrt(1.0 - COLOUR_WEIGHT)
        out.append(_unit(np.concatenate([colour, shape])).astype(np.float32))
    return out


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two descriptors; 0 when they cannot be compared."""
    if a.shape != b.shape:
        return 0.0
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return 0.0
    return float(np.dot(a, b) / (na * nb))


def to_bytes(descriptor: np.ndarray) -> bytes:
    """Compact storage form (float32 little-endian), for a database binary field."""
    return np.asarray(descriptor, dtype="<f4").tobytes()


def from_bytes(data: bytes | memoryview | None) -> np.ndarray:
    if not data:
        return np.zeros(0, np.float32)
    return np.frombuffer(bytes(data), dtype="<f4").astype(np.float32)


def normalise_box(box: Box | Sequence[float], frame_size: tuple[int, int]) -> NormBox:
    """(x1, y1, x2, y2) as fractions 0..1 of the frame; frame_size is (width, height)."""
    x1, y1, x2, y2 = box.as_list() if isinstance(box, Box) else box
    w, h = frame_size

    def clamp(v):
        return min(max(float(v), 0.0), 1.0)

    return (clamp(x1 / w), clamp(y1 / h), clamp(x2 / w), clamp(y2 / h))


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def same_place(a: Sequence[float], b: Sequence[float], iou_min: float = IOU_MIN) -> bool:
    """Are two normalised boxes at the same place? IoU >= iou_min; for two small boxes (`is_small`)
    also when their centres are within half the larger one's size, since a few pixels of
    detector jitter on a 12 px box already take its IoU under 0.5 (the appearance test, on the
    surroundings, still has to pass)."""
    if iou(a, b) >= iou_min:
        return True
    if not (is_small(a) and is_small(b)):
        return False
    reach_x = 0.5 * max(a[2] - a[0], b[2] - b[0])
    reach_y = 0.5 * max(a[3] - a[1], b[3] - b[1])
    return abs(a[0] + a[2] - b[0] - b[2]) / 2 <= reach_x and abs(a[1] + a[3] - b[1] - b[3]) / 2 <= reach_y


@dataclass(frozen=True)
class Rule:
    id: int | str
    box: NormBox  # x1, y1, x2, y2 normalised to 0..1 of the frame
    descriptor: np.ndarray = field(compare=False)
    iou_min: float = IOU_MIN  # place tolerance
    similarity_min: float = SIMILARITY_MIN  # appearance tolerance (cosine)
    expires_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now

    def matches(self, norm_box: Sequence[float], descriptor: np.ndarray) -> bool:
        return same_place(self.box, norm_box, self.iou_min) and (
            similarity(self.descriptor, descriptor) >= self.similarity_min
        )


def match(
    rules: Sequence[Rule],
    box: Box | Sequence[float],
    descriptor: np.ndarray,
    frame_size: tuple[int, int],
    now: datetime | None = None,
) -> Rule | None:
    """The first active rule whose place (IoU on normalised boxes) AND appearance (cosine) both match."""
    if not rules:
        return None
    now = now or datetime.now(UTC)
    norm = normalise_box(box, frame_size)
    for rule in rules:
        if rule.active(now) and rule.matches(norm, descriptor):
            return rule
    return None


@dataclass
class Group:
    """Detections of one thing at one place (a static object seen in many frames of a clip)."""

    box: NormBox
    descriptor: np.ndarray
    count: int
    best_score: float


def group_detections(
    detections: Iterable[tuple[NormBox, np.ndarray, float]], *, iou_min: float = IOU_MIN
) -> list[Group]:
    """Merge (normalised box, descriptor, score) of one clip's false detections into one group per
    place, best score first: a parked car seen in 120 frames gives one rule, not 120.

    The group's box is the per-coordinate median of its boxes and its descriptor the normalised
    mean, which is more stable than any single frame's. Zero descriptors (a box outside the
    frame) are left out.
    """
    items = sorted(
        ((tuple(map(float, b)), d, float(s)) for b, d, s in detections if d.size and np.linalg.norm(d) > 0),
        key=lambda t: -t[2],
    )
    members: list[list[tuple[NormBox, np.ndarray, float]]] = []
    for item in items:
        for group in members:
            if same_place(group[0][0], item[0], iou_min):  # compared with the group's best detection
                group.append(item)
                break
        else:
            members.append([item])
    groups = []
    for group in members:
        boxes = np.array([g[0] for g in group], dtype=np.float64)
        descriptor = _unit(np.mean([g[1] for g in group], axis=0)).astype(np.float32)
        groups.append(Group(tuple(np.median(boxes, axis=0).tolist()), descriptor, len(group), group[0][2]))
    return groups


def match_frames(
    rules: Sequence[Rule],
    frames: Iterable[tuple[Sequence[Box], Sequence[np.ndarray | None], tuple[int, int]]],
    now: datetime | None = None,
) -> list[list[Rule | None]]:
    """For each frame given as (boxes, descriptors, (width, height)), the rule suppressing each box
    (None: not suppressed); `inference.decision.decide_clip` calls it. A box without a
    descriptor is never suppressed: suppression needs proof of appearance, not just of place."""
    now = now or datetime.now(UTC)
    active = [r for r in rules if r.active(now)]
    out = []
    for boxes, descriptors, size in frames:
        row: list[Rule | None] = []
        for i, b in enumerate(boxes):
            d = descriptors[i] if i < len(descriptors) else None
            row.append(match(active, b, d, size, now) if active and d is not None else None)
        out.append(row)
    return out


# ------------------------------------------------------------------------------ rule-making


def rule_floor(threshold: float, review_band: float, jitter: float) -> float:
    """The score from which a false detection is worth a rule (and so worth a descriptor).

    A still object's score moves from one minute's clip to the next (noise, light, compression:
    `jitter`, measured by benchmarks/bench_jitter.py), so a box of the reviewed clip scoring
    `threshold - jitter` may alert in the next minute: it must be covered too, or it is the next
    false alert. The boxes that brought the clip to review (the review band under the threshold)
    are covered as well. The floor follows the threshold at any value (no constant noise floor:
    under a threshold of 0.115, a floor of 0.1 covered nothing). Production and the replay both
    use it, for the rules and for which boxes get a descriptor."""
    return max(0.0, threshold - max(review_band, jitter))


def false_detections(
    frames: Iterable[tuple[Sequence[Box], Sequence[np.ndarray | None], tuple[int, int]]],
) -> list[tuple[NormBox, np.ndarray, float]]:
    """(normalised box, descriptor, score) of every person box with a descriptor, from frames given
    as (boxes, descriptors, (width, height)): what `rules_from_false_detections` takes."""
    out = []
    for boxes, descriptors, size in frames:
        for i, b in enumerate(boxes):
            d = descriptors[i] if i < len(descriptors) else None
            if b.label == PERSON and d is not None:
                out.append((normalise_box(b, size), d, b.score))
    return out


def rules_from_false_detections(
    detections: Iterable[tuple[NormBox, np.ndarray | None, float]], *, floor: float, max_rules: int | None = None
) -> list[Group]:
    """The rules to make from one clip's false detections (normalised box, descriptor, score), as
    groups (place, appearance, how many detections, best score): the detections at or above
    `floor` (`rule_floor`), one group per place, best first, at most `max_rules`. A group whose
    box is degenerate (a detection on the frame's edge) cannot be matched by place: left out."""
    groups = group_detections((b, d, s) for b, d, s in detections if d is not None and s >= floor)[:max_rules]
    return [g for g in groups if g.box[0] < g.box[2] and g.box[1] < g.box[3]]

"""A recurring false positive stops alerting from the minute after ONE review, at any threshold,
and every person still alerts — through `inference.decision.decide_clip`, on real-looking
consecutive minutes (tests/scenes.py: noise, light drift, sway, compression).

The boxes are scripted, the pixels are not: each minute's frames are rendered, each static
object's box jitters by a few pixels and its score drifts around the camera's threshold by up to
the measured jitter (SUPPRESSION_JITTER) from the reviewed minute, and every descriptor is
computed from the rendered frame, as the pipeline does. The people's boxes are where the sprite
was pasted (cut to the frame), scoring 0.1 over the threshold. (tests/reviewapp/test_recurring.py
runs the same story through the worker and the real detector.)
"""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from inference import defaults, suppression
from inference.decision import decide_clip
from inference.detector import Box
from inference.pipeline import FrameResult
from tests import scenes

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
JITTER = defaults.SUPPRESSION_JITTER
BAND = 0.02  # a narrow review band: the jitter margin, not the band, has to cover the objects
# The static things and where their score sits in the reviewed minute, relative to the threshold:
# the cat just over it, the tiny blob and the cut-off cat almost a whole jitter under it (the
# issue's 0.098 box under a threshold of 0.115).
STATIC = {"cat": (scenes.OBJECT_BOX, +0.01), "edge": (scenes.EDGE_BOX, -0.6), "tiny": (scenes.TINY_BOX, -0.9)}


def static_boxes(rng, threshold: float, minute: int) -> list[Box]:
    out = []
    for coords, offset in STATIC.values():
        base = threshold + (offset if offset > 0 else offset * JITTER)
        drift = 0.0 if minute == 0 else rng.uniform(-JITTER, JITTER)
        x1, y1, x2, y2 = (c + int(rng.integers(-2, 3)) for c in coords)
        out.append(Box(max(x1, 0), max(y1, 0), min(x2, 640), min(y2, 480), float(np.clip(base + drift, 0.01, 0.99))))
    return out


def person_box(kind: str, phase: float, threshold: float) -> Box | None:
    placed = scenes.person_at(kind, phase)
    if placed is None:
        return None
    sprite, x, y = placed
    x1, y1, x2, y2 = max(x, 0), max(y, 0), min(x + sprite.shape[1], 640), min(y + sprite.shape[0], 480)
    if x2 - x1 < 4:
        return None
    return Box(x1, y1, x2, y2, min(threshold + 0.1, 0.99))


def minute(threshold: float, m: int, person: str = "") -> tuple[list[FrameResult], list[int]]:
    """The minute's detected frames (a 4 s clip at 2 fps) and, per frame, the index of the
    person's box (-1: none)."""
    rng = np.random.default_rng(100 + m)
    frames, people = [], []
    all_frames = list(scenes.minute_frames(m, person=person, fps=2))  # the pipeline samples 2 fps
    for i in range(len(all_frames)):
        image = all_frames[i]
        boxes = static_boxes(rng, threshold, m)
        p = person_box(person, i / (len(all_frames) - 1), threshold) if person else None
        people.append(len(boxes) if p is not None else -1)
        if p is not None:
            boxes.append(p)
        descriptors = suppression.describe_many(image, boxes)
        floor = suppression.rule_floor(threshold, BAND, JITTER)
        described = [d if b.score >= floor else None for b, d in zip(boxes, descriptors)]
        frames.append(FrameResult(i, i / 2, boxes, described, scenes.SIZE))
    return frames, people


def decide(frames, rules, threshold, m):
    return decide_clip(frames, rules=rules, threshold=threshold, review_band=BAND, now=NOW + timedelta(minutes=m))


def rules_from(frames, threshold, floor=None) -> list[suppression.Rule]:
    floor = suppression.rule_floor(threshold, BAND, JITTER) if floor is None else floor
    groups = suppression.rules_from_false_detections(
        suppression.false_detections((f.boxes, f.descriptors, f.size) for f in frames),
        floor=floor,
        max_rules=defaults.SUPPRESSION_MAX_RULES_PER_REVIEW,
    )
    return [
        suppression.Rule(
            id=f"r{i}", box=g.box, descriptor=g.descriptor, similarity_min=suppression.similarity_for(g.box)
        )
        for i, g in enumerate(groups)
    ]


@pytest.mark.parametrize("threshold", [0.05, 0.12, 0.3, 0.6, 0.9])
def test_one_review_silences_the_static_objects_for_ten_minutes_and_every_person_still_alerts(threshold):
    reviewed, _ = minute(threshold, 0)
    first = decide(reviewed, [], threshold, 0)
    assert first.alert, "the static objects make the first minute a false alert"
    rules = rules_from(reviewed, threshold)
    assert len(rules) == len(STATIC), "one review, one rule for every static thing"
    assert sum(suppression.is_small(r.box) for r in rules) == 1, "the blob's rule is a small one"

    for m in range(1, 11):
        frames, _ = minute(threshold, m)
        decision = decide(frames, rules, threshold, m)
        assert not decision.alert, f"minute {m} alerted at {decision.score:.3f}"

    for m, kind in enumerate(scenes.PEOPLE, start=11):
        frames, people = minute(threshold, m, person=kind)
        decision = decide(frames, rules, threshold, m)
        assert decision.alert, f"the {kind} person did not alert"
        seen = [(i, j) for i, j in enumerate(people) if j >= 0]
        assert seen, kind
        assert all(decision.suppressed_by[i][j] is None for i, j in seen), f"a rule swallowed the {kind} person"
        assert decision.decided_by is not None and people[decision.decided_by.frame] == decision.decided_by.box_index


def test_the_constant_floor_of_before_let_the_blob_through():
    """The test above can fail: with the old floor (never under 0.1), the reviewed minute's tiny
    blob (0.12 - 0.9 x jitter) makes no rule, and a later minute alerts on it."""
    threshold = 0.12
    reviewed, _ = minute(threshold, 0)
    rules = rules_from(reviewed, threshold, floor=max(threshold - BAND, 0.1))
    alerted = [m for m in range(1, 11) if decide(minute(threshold, m)[0], rules, threshold, m).alert]
    assert alerted, "some later minute alerts on what the rule did not cover"


def test_without_its_surroundings_the_blob_escapes_the_appearance_test(monkeypatch):
    """The blob's own crop is noise: described without its surroundings (and matched at the
    usual tolerance), its rule misses it in later minutes."""
    threshold = 0.3
    monkeypatch.setattr(suppression, "SMALL_SIZE", (0.0, 0.0))
    reviewed, _ = minute(threshold, 0)
    rules = rules_from(reviewed, threshold)
    alerted = [m for m in range(1, 11) if decide(minute(threshold, m)[0], rules, threshold, m).alert]
    assert alerted

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from inference.detector import Box
from inference.suppression import (
    DESCRIPTOR_SIZE,
    Rule,
    describe,
    from_bytes,
    group_detections,
    iou,
    match,
    normalise_box,
    similarity,
    to_bytes,
)
from tests.scenes import OBJECT_BOX, SIZE, background, noisy, paste, person, with_object

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def box(coords, score=0.5):
    return Box(*coords, score)


@pytest.fixture
def scene():
    return with_object(background(0))


@pytest.fixture
def rule(scene):
    rng = np.random.default_rng(1)
    return Rule(id=7, box=normalise_box(OBJECT_BOX, SIZE), descriptor=describe(noisy(scene, rng), box(OBJECT_BOX)))


def test_the_descriptor_is_a_unit_float32_vector():
    d = describe(background(0), box((10, 10, 110, 210)))
    assert d.dtype == np.float32 and d.shape == (DESCRIPTOR_SIZE,)
    assert np.linalg.norm(d) == pytest.approx(1.0, abs=1e-5)


def test_a_box_outside_the_frame_gives_a_zero_descriptor_that_matches_nothing(rule):
    d = describe(background(0), box((700, 500, 800, 600)))
    assert not d.any() and similarity(d, rule.descriptor) == 0.0


def test_the_same_object_in_a_later_clip_matches_its_rule(rule, scene):
    rng = np.random.default_rng(2)
    later = noisy(scene, rng, sigma=3, gain=0.8)  # new noise, darker
    jittered = box((303, 206, 396, 474))
    hit = match([rule], jittered, describe(later, jittered), SIZE, now=NOW)
    assert hit is rule


def test_a_person_standing_in_front_of_the_object_does_not_match(rule, scene):
    x1, y1, x2, y2 = OBJECT_BOX
    frame = noisy(paste(scene, person(x2 - x1, y2 - y1), x1, y1), np.random.default_rng(3))
    d = describe(frame, box(OBJECT_BOX))
    assert iou(rule.box, normalise_box(OBJECT_BOX, SIZE)) == 1.0  # the very same place...
    assert similarity(rule.descriptor, d) < rule.similarity_min  # ...but not what the rule saw
    assert match([rule], box(OBJECT_BOX), d, SIZE, now=NOW) is None


def test_the_same_object_elsewhere_in_the_frame_does_not_match(rule):
    moved = (100, 210, 200, 470)
    frame = with_object(background(0), moved)
    assert match([rule], box(moved), describe(frame, box(moved)), SIZE, now=NOW) is None


def test_an_expired_rule_does_not_match_and_one_without_expiry_always_does(rule, scene):
    d = describe(scene, box(OBJECT_BOX))
    expired = Rule(id=1, box=rule.box, descriptor=rule.descriptor, expires_at=NOW - timedelta(seconds=1))
    later = Rule(id=2, box=rule.box, descriptor=rule.descriptor, expires_at=NOW + timedelta(days=1))
    assert match([expired], box(OBJECT_BOX), d, SIZE, now=NOW) is None
    assert match([expired, later], box(OBJECT_BOX), d, SIZE, now=NOW) is later
    assert match([rule], box(OBJECT_BOX), d, SIZE) is rule  # now defaults to the current time


def test_places_are_compared_in_frame_fractions_so_a_new_stream_resolution_still_matches(rule, scene):
    import cv2

    half = cv2.resize(scene, (SIZE[0] // 2, SIZE[1] // 2), interpolation=cv2.INTER_AREA)
    small = box([v / 2 for v in OBJECT_BOX])
    assert match([rule], small, describe(half, small), (SIZE[0] // 2, SIZE[1] // 2), now=NOW) is rule


def test_tolerances_are_per_rule(rule, scene):
    shifted = (330, 210, 430, 470)  # IoU with the rule's box ~0.54
    d = describe(scene, box(shifted))
    strict = Rule(id=3, box=rule.box, descriptor=rule.descriptor, iou_min=0.9, similarity_min=0.0)
    loose = Rule(id=4, box=rule.box, descriptor=rule.descriptor, iou_min=0.5, similarity_min=0.0)
    assert match([strict], box(shifted), d, SIZE, now=NOW) is None
    assert match([strict, loose], box(shifted), d, SIZE, now=NOW) is loose


def test_descriptors_of_another_version_never_match(rule):
    assert similarity(rule.descriptor, np.ones(10, np.float32)) == 0.0


def test_descriptors_survive_a_bytes_round_trip(rule):
    data = to_bytes(rule.descriptor)
    assert len(data) == DESCRIPTOR_SIZE * 4
    assert np.array_equal(from_bytes(data), rule.descriptor) and np.array_equal(
        from_bytes(memoryview(data)), rule.descriptor
    )
    assert from_bytes(None).size == 0 and from_bytes(b"").size == 0


def test_one_clips_false_detections_are_grouped_by_place(scene):
    rng = np.random.default_rng(4)
    items = []
    for i in range(8):  # the cat in 8 frames, boxes jittering by a few pixels
        b = (300 + i % 3, 210 - i % 2, 400 - i % 2, 470 + i % 3)
        items.append((normalise_box(b, SIZE), describe(noisy(scene, rng), b), 0.1 + i / 100))
    other = (20, 20, 80, 120)
    items.append((normalise_box(other, SIZE), describe(scene, other), 0.3))
    items.append((normalise_box((0, 0, 5, 5), SIZE), np.zeros(DESCRIPTOR_SIZE, np.float32), 0.9))  # no pixels
    groups = group_detections(items)
    assert [g.count for g in groups] == [1, 8]  # best score first
    cat = groups[1]
    assert cat.best_score == pytest.approx(0.17)
    assert iou(cat.box, normalise_box(OBJECT_BOX, SIZE)) > 0.95
    assert np.linalg.norm(cat.descriptor) == pytest.approx(1.0, abs=1e-5)
    assert similarity(cat.descriptor, describe(scene, OBJECT_BOX)) > 0.95


def test_match_frames_gives_the_rule_of_each_box_and_never_suppresses_a_box_without_descriptor(rule, scene):
    from inference.suppression import match_frames

    x1, y1, x2, y2 = OBJECT_BOX
    walker = noisy(paste(scene, person(x2 - x1, y2 - y1), x1, y1), np.random.default_rng(5))
    frames = [
        ([box(OBJECT_BOX)], [describe(scene, OBJECT_BOX)], SIZE),  # the cat
        ([box(OBJECT_BOX)], [describe(walker, OBJECT_BOX)], SIZE),  # a person where the cat was
        ([box(OBJECT_BOX)], [None], SIZE),  # not described
    ]
    assert match_frames([rule], frames, now=NOW) == [[rule], [None], [None]]
    assert match_frames([], frames, now=NOW) == [[None], [None], [None]]


@pytest.mark.parametrize("threshold", [0.05, 0.1, 0.115, 0.12, 0.2, 0.3, 0.5, 0.6, 0.9])
@pytest.mark.parametrize("band", [0.0, 0.02, 0.05, 0.15])
def test_the_rule_floor_covers_whatever_could_reach_the_threshold_next_minute_at_any_threshold(threshold, band):
    from inference.defaults import SUPPRESSION_JITTER
    from inference.suppression import rule_floor

    floor = rule_floor(threshold, band, SUPPRESSION_JITTER)
    assert floor <= threshold - SUPPRESSION_JITTER + 1e-9 or floor == 0.0, "a box a jitter under it is covered"
    assert floor <= max(threshold - band, 0.0) + 1e-9, "and so is every box that brought the clip to review"
    assert floor == pytest.approx(max(0.0, threshold - max(band, SUPPRESSION_JITTER)))


def test_the_rule_floor_has_no_constant_noise_floor_any_more():
    """The issue's camera: threshold 0.115, band 0.05; a box at 0.098 in the reviewed clip scored
    0.126 the next minute. The old floor (max(threshold - band, 0.1)) made no rule from it."""
    from inference.suppression import rule_floor

    assert rule_floor(0.115, 0.05, 0.03) == pytest.approx(0.065)
    assert rule_floor(0.115, 0.05, 0.03) < 0.098
    assert rule_floor(0.5, 0.15, 0.03) == pytest.approx(0.35)
    assert rule_floor(0.6, 0.02, 0.05) == pytest.approx(0.55)


def test_rules_from_false_detections_take_the_floor_one_rule_a_place_and_at_most_max_rules(scene):
    from inference.suppression import rules_from_false_detections

    d = describe(scene, OBJECT_BOX)
    place = normalise_box(OBJECT_BOX, SIZE)
    elsewhere = [((0.05 * i, 0.0, 0.05 * i + 0.04, 0.1), d, 0.5) for i in range(4)]
    items = [(place, d, 0.4), (place, d, 0.3), (place, d, 0.2), *elsewhere]
    rules = rules_from_false_detections(items, floor=0.25)
    assert len(rules) == 5 and rules[-1].count == 2 and rules[-1].best_score == 0.4  # 0.2 is under the floor
    assert len(rules_from_false_detections(items, floor=0.25, max_rules=2)) == 2
    assert rules_from_false_detections([(place, None, 0.9)], floor=0.1) == []  # not described
    edge = (0.99, 0.2, 0.99, 0.4)  # a box on the frame's edge, clamped to no width
    assert rules_from_false_detections([(edge, d, 0.9)], floor=0.1) == []


def test_false_detections_are_the_described_person_boxes():
    from inference.suppression import false_detections

    d = np.ones(DESCRIPTOR_SIZE, np.float32)
    frames = [
        ([box((0, 0, 64, 48), 0.7), box((0, 0, 64, 48), 0.6), Box(0, 0, 64, 48, 0.9, "car")], [d, None, d], (640, 480))
    ]
    assert [(b, s) for b, _, s in false_detections(frames)] == [((0.0, 0.0, 0.1, 0.1), 0.7)]

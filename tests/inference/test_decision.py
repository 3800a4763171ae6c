import numpy as np
import pytest

from inference.decision import decide
from inference.detector import Box, DetectorUnavailable, load_detector
from inference.detectors.plugins.hog import svm_margin_to_score


def box(score, label="person"):
    return Box(0, 0, 10, 20, score, label)


def test_the_clip_score_is_the_best_person_score_in_any_frame():
    d = decide([[box(0.3)], [], [box(0.7), box(0.99, "car")]], threshold=0.5, review_band=0.1)
    assert d.score == 0.7 and d.alert is True and d.near_threshold is False


@pytest.mark.parametrize(
    "score, alert, near", [(0.5, True, True), (0.49, False, True), (0.61, True, False), (0.39, False, False)]
)
def test_alert_and_review_band_edges(score, alert, near):
    d = decide([[box(score)]], threshold=0.5, review_band=0.1)
    assert (d.alert, d.near_threshold) == (alert, near)


def test_a_clip_without_detections_scores_zero_and_is_not_near_a_low_threshold():
    d = decide([[], []], threshold=0.05, review_band=0.1)
    assert (d.score, d.alert, d.near_threshold) == (0.0, False, False)


def test_svm_margin_maps_to_0_1_around_one_half():
    assert svm_margin_to_score(0.0) == 0.5
    assert 0 < svm_margin_to_score(-3) < 0.01 and 0.99 < svm_margin_to_score(3) < 1


def test_hog_returns_boxes_in_the_frame_coordinates():
    from reviewapp.review.demo import photo  # the astronaut: HOG does fire on her

    image = photo("astronaut")
    big = np.kron(image, np.ones((2, 2, 1), dtype=np.uint8))  # 1024 wide: HOG works on a downscaled copy
    boxes = load_detector("hog").detect([image, big])
    assert boxes[0] and boxes[1]
    best_small = max(boxes[0], key=lambda b: b.score)
    best_big = max(boxes[1], key=lambda b: b.score)
    assert best_big.x2 > 512 * 0.9 or best_big.y2 > 512 * 0.9  # in the 1024-px frame, not the 640-px copy
    assert best_big.x1 == pytest.approx(2 * best_small.x1, abs=40)


def test_an_unknown_detector_is_a_clear_error():
    with pytest.raises(DetectorUnavailable, match="unknown detector 'yolo'"):
        load_detector("yolo")


def test_suppressed_boxes_do_not_count_but_are_reported():
    frames = [[box(0.3), box(0.9)], [box(0.8)], [box(0.95, "car")]]
    d = decide(frames, threshold=0.5, review_band=0.1, suppressed_by=[[None, 7], [7], [None]])
    assert (d.score, d.alert, d.near_threshold) == (0.3, False, False)
    assert (d.suppressed, d.suppressed_score) == (2, 0.9)


def test_a_clip_whose_only_detections_are_suppressed_scores_zero():
    d = decide([[box(0.9)]], threshold=0.5, review_band=0.5, suppressed_by=[["r1"]])
    assert (d.score, d.alert, d.near_threshold, d.suppressed) == (0.0, False, False, 1)


def test_without_rules_nothing_is_suppressed():
    d = decide([[box(0.9)]], threshold=0.5, review_band=0.1, suppressed_by=[[]])
    assert (d.score, d.suppressed, d.suppressed_score) == (0.9, 0, 0.0)

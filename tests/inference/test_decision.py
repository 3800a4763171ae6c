from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from inference.decision import BoxRef, Outcome, decide_clip
from inference.detector import Box, DetectorUnavailable, load_detector
from inference.detectors.plugins.hog import svm_margin_to_score
from inference.pipeline import FrameResult
from inference.suppression import Rule, normalise_box
from inference.temporal import TemporalEvidence

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
SIZE = (640, 480)
RNG = np.random.default_rng(0)
POSTER = RNG.normal(size=64).astype(np.float32)  # the look of a poster on the wall
WALKER = RNG.normal(size=64).astype(np.float32)  # the look of a person
POSTER_BOX = (100, 100, 160, 260)


def box(score, label="person", coords=(0, 0, 10, 20)):
    return Box(*coords, score, label)


def frame(*boxes, descriptors=None, t=0.0):
    """A detected frame; every box described as a poster unless told otherwise."""
    descriptors = descriptors if descriptors is not None else [POSTER] * len(boxes)
    return FrameResult(0, t, list(boxes), list(descriptors), SIZE)


def frames_of(*box_lists):
    return [frame(*boxes, t=i * 0.5) for i, boxes in enumerate(box_lists)]


def decide(frames, *, threshold=0.5, review_band=0.1, rules=(), **kwargs):
    return decide_clip(frames, rules=list(rules), threshold=threshold, review_band=review_band, now=NOW, **kwargs)


def poster_rule(**kwargs):
    return Rule(id=7, box=normalise_box(POSTER_BOX, SIZE), descriptor=POSTER, **kwargs)


def at_poster(score):
    return box(score, coords=POSTER_BOX)


def test_the_clip_score_is_the_best_person_score_in_any_frame():
    d = decide(frames_of([box(0.3)], [], [box(0.7), box(0.99, "car")]))
    assert d.score == 0.7 and d.alert is True and d.near_threshold is False
    assert d.outcome == Outcome.ALERT and d.decided_by == BoxRef(2, 0, box(0.7))


@pytest.mark.parametrize(
    "score, alert, near", [(0.5, True, True), (0.49, False, True), (0.61, True, False), (0.39, False, False)]
)
def test_alert_and_review_band_edges(score, alert, near):
    d = decide(frames_of([box(score)]))
    assert (d.alert, d.near_threshold) == (alert, near)
    assert d.outcome == (Outcome.ALERT if alert else Outcome.NEAR_THRESHOLD if near else Outcome.QUIET)


def test_a_clip_without_detections_scores_zero_and_is_not_near_a_low_threshold():
    d = decide(frames_of([], []), threshold=0.05)
    assert (d.score, d.alert, d.near_threshold, d.outcome, d.decided_by) == (0.0, False, False, Outcome.QUIET, None)


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


def test_a_rule_suppresses_the_poster_at_its_place_but_not_a_person_there():
    walker = box(0.8, coords=(95, 95, 165, 265))
    frames = [
        frame(at_poster(0.9), t=0.0),
        frame(at_poster(0.9), walker, descriptors=[POSTER, WALKER], t=0.5),
    ]
    d = decide(frames, rules=[poster_rule()])
    assert d.suppressed_by == ((7,), (7, None))
    assert (d.score, d.alert, d.suppressed, d.suppressed_score) == (0.8, True, 2, 0.9)
    assert d.decided_by == BoxRef(1, 1, walker)
    assert decide(frames[:1], rules=[poster_rule()]).outcome == Outcome.SUPPRESSED
    # Without the rule the poster itself alerts: the rule is what changed the outcome.
    assert decide(frames[:1]).outcome == Outcome.ALERT


def test_suppressed_boxes_do_not_count_but_are_reported():
    frames = [frame(box(0.3), at_poster(0.9)), frame(at_poster(0.8)), frame(box(0.95, "car"))]
    d = decide(frames, rules=[poster_rule()])
    assert (d.score, d.alert, d.near_threshold) == (0.3, False, False)
    assert (d.suppressed, d.suppressed_score) == (2, 0.9)
    assert d.outcome == Outcome.SUPPRESSED


def test_a_clip_whose_only_detections_are_suppressed_scores_zero():
    d = decide([frame(at_poster(0.9))], review_band=0.5, rules=[poster_rule()])
    assert (d.score, d.alert, d.near_threshold, d.suppressed) == (0.0, False, False, 1)


def test_without_rules_nothing_is_suppressed():
    d = decide([frame(at_poster(0.9))])
    assert (d.score, d.suppressed, d.suppressed_score, d.suppressed_by) == (0.9, 0, 0.0, ((None,),))


def test_a_box_without_a_descriptor_is_never_suppressed():
    d = decide([frame(at_poster(0.9), descriptors=[None])], rules=[poster_rule()])
    assert (d.alert, d.suppressed, d.suppressed_by) == (True, 0, ((None,),))


def test_an_expired_rule_is_ignored_and_a_live_one_applies():
    frames = [frame(at_poster(0.9))]
    assert decide(frames, rules=[poster_rule(expires_at=NOW - timedelta(seconds=1))]).alert is True
    assert decide(frames, rules=[poster_rule(expires_at=NOW + timedelta(days=1))]).alert is False


class Verifier:
    """A veto that says yes or no, and remembers what it was asked about."""

    def __init__(self, answer):
        self.answer, self.asked = answer, []

    def accepts(self, candidates):
        self.asked.append(list(candidates))
        return self.answer


def test_a_verifier_that_rejects_vetoes_the_alert_and_sends_the_clip_to_review():
    walker = box(0.8, coords=(300, 100, 360, 260))
    frames = [frame(at_poster(0.9), walker, box(0.2), descriptors=[POSTER, WALKER, WALKER])]
    no = Verifier(False)
    d = decide(frames, rules=[poster_rule()], verifier=no)
    assert (d.alert, d.near_threshold, d.vetoed, d.vetoed_by, d.outcome) == (False, True, True, "verifier", "vetoed")
    assert d.score == 0.8
    # It is asked only about the boxes that would alert: not the suppressed poster, not the 0.2.
    assert no.asked == [[BoxRef(0, 1, walker)]]
    yes = Verifier(True)
    assert decide(frames, rules=[poster_rule()], verifier=yes).alert is True


def test_the_verifier_is_not_asked_about_a_clip_that_would_not_alert():
    v = Verifier(False)
    d = decide([frame(box(0.45))], verifier=v)
    assert v.asked == [] and not d.vetoed and d.outcome == Outcome.NEAR_THRESHOLD


def test_temporal_evidence_drops_a_person_seen_in_one_frame_only():
    one = frames_of([box(0.9)], [], [], [])
    walking = frames_of([box(0.9)], [box(0.85)], [box(0.9)], [])
    rule = TemporalEvidence("frames", sample_fps=2.0, k=2)
    d = decide(one, temporal=rule, sampled=4)
    assert (d.alert, d.vetoed_by, d.near_threshold, d.outcome) == (False, "temporal", True, Outcome.VETOED)
    assert decide(walking, temporal=rule, sampled=4).alert is True
    assert decide(one).alert is True, "off by default"
    median = TemporalEvidence("median", sample_fps=2.0)
    assert decide(one, temporal=median, sampled=4).alert is False
    assert decide(walking, temporal=median, sampled=4).alert is True


def test_temporal_evidence_counts_only_unsuppressed_boxes():
    frames = frames_of([at_poster(0.9)], [at_poster(0.9)], [box(0.7)])
    rule = TemporalEvidence("frames", sample_fps=2.0, k=2)
    assert decide(frames, temporal=rule, sampled=3).alert is True
    assert decide(frames, rules=[poster_rule()], temporal=rule, sampled=3).alert is False


def test_an_unknown_temporal_rule_is_refused():
    with pytest.raises(ValueError, match="unknown temporal rule"):
        TemporalEvidence("mode", sample_fps=2.0)

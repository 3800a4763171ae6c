import pytest

from inference.detector import Box
from inference.temporal import (
    TimedBoxes,
    frames_at_least,
    link_tracks,
    person_frames,
    represented,
    running_median,
    track_median,
)


def box(x, score, label="person"):
    return Box(x, 100, x + 50, 200, score, label)


def frames(*scores_per_frame, step=0.5, x_of=lambda i: 10 + 5 * i):
    """One TimedBoxes per entry (2 fps by default); None is a frame without a box."""
    return [TimedBoxes(i * step, [] if s is None else [box(x_of(i), s)]) for i, s in enumerate(scores_per_frame)]


def test_a_detected_frame_stands_for_the_still_frames_skipped_after_it():
    fs = [TimedBoxes(0.0, []), TimedBoxes(5.0, []), TimedBoxes(5.5, [])]
    assert represented(fs, 2.0) == [10, 1, 1]


def test_it_counts_sampled_frames_with_a_person_at_or_above_the_threshold():
    fs = frames(0.6, 0.2, 0.5, None, 0.7)
    assert person_frames(fs, threshold=0.5, sample_fps=2.0) == 3
    assert frames_at_least(fs, threshold=0.5, k=3, sample_fps=2.0)
    assert not frames_at_least(fs, threshold=0.5, k=4, sample_fps=2.0)


def test_a_one_frame_flash_fails_k_of_n_but_a_static_object_in_a_still_scene_does_not():
    flash = frames(None, None, 0.8, None, None)
    assert not frames_at_least(flash, threshold=0.5, k=2, sample_fps=2.0)
    # A still scene is detected once every 10 s: two detected frames stand for 20 sampled ones.
    still = [TimedBoxes(0.0, [box(300, 0.6)]), TimedBoxes(10.0, [box(300, 0.6)])]
    assert person_frames(still, threshold=0.5, sample_fps=2.0) == 21
    assert frames_at_least(still, threshold=0.5, k=2, sample_fps=2.0)


def test_other_labels_never_count():
    fs = [TimedBoxes(i * 0.5, [box(10, 0.9, label="car")]) for i in range(5)]
    assert person_frames(fs, threshold=0.5, sample_fps=2.0) == 0


def test_running_median_is_padded_so_one_high_score_is_not_enough():
    assert running_median([0.9]) == 0.0
    assert running_median([0.9, 0.8]) == 0.8
    assert running_median([0.2, 0.9, 0.3, 0.2]) == pytest.approx(0.3)
    # The window forgets old scores: the best running median is over the last 10 only.
    assert running_median([0.9] * 3 + [0.1] * 20) == 0.9
    assert running_median([0.1] * 20 + [0.9] * 4, window=10) == pytest.approx(0.1)


def test_tracks_follow_a_moving_person_and_keep_apart_two_places():
    fs = [TimedBoxes(i * 0.5, [box(10 + 8 * i, 0.5), box(500, 0.4)]) for i in range(6)]
    tracks = link_tracks(fs, min_score=0.1)
    assert sorted(len(t.boxes) for t in tracks) == [6, 6]
    assert {round(t.boxes[0].x1) for t in tracks} == {10, 500}


def test_boxes_under_min_score_do_not_enter_a_track():
    fs = frames(0.05, 0.05, 0.05)
    assert link_tracks(fs, min_score=0.1) == []


def test_track_median_alerts_on_a_steady_person_not_on_a_flicker():
    steady = frames(0.3, 0.55, 0.6, 0.58, 0.62, 0.4)
    assert track_median(steady, threshold=0.5, min_score=0.1, sample_fps=2.0)
    flicker = frames(0.2, 0.9, 0.2, 0.2, 0.8, 0.2)  # two lucky frames in one track
    assert not track_median(flicker, threshold=0.5, min_score=0.1, sample_fps=2.0)
    single = frames(None, None, 0.95, None)
    assert not track_median(single, threshold=0.5, min_score=0.1, sample_fps=2.0)


def test_track_median_counts_skipped_still_frames():
    # One box at 0 s and nothing detected until 10 s: the still frames between repeat it.
    still = [TimedBoxes(0.0, [box(300, 0.6)]), TimedBoxes(10.0, [])]
    assert track_median(still, threshold=0.5, min_score=0.1, sample_fps=2.0)

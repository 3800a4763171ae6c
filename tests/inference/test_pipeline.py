import cv2
import numpy as np
import pytest

from inference.detector import Box
from inference.pipeline import changed_fraction, detect_clip
from inference.video import InvalidVideo


class CountingDetector:
    """Finds one 'person' box on every frame it is given, and remembers which frames those were."""

    name = version = "counting"

    def __init__(self):
        self.calls = []

    def detect(self, frames):
        self.calls.append(len(frames))
        return [[Box(0, 0, 10, 10, 0.9)] for _ in frames]


def write(path, frames, fps=10):
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    return path


@pytest.fixture
def scene():
    rng = np.random.default_rng(1)
    return cv2.GaussianBlur(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), (9, 9), 0)


def test_a_still_scene_is_detected_once_then_every_max_still_seconds(tmp_path, scene):
    path = write(tmp_path / "still.mp4", [scene] * 250, fps=10)  # 25 s
    detector = CountingDetector()
    result = detect_clip(path, detector, sample_fps=2, min_change=0.002, max_still_s=10)
    assert [f.time for f in result.frames] == [0.0, 10.0, 20.0]
    assert result.sampled == 50 and result.skipped == 47


def test_something_small_moving_is_detected_in_every_sampled_frame(tmp_path, scene):
    frames = []
    for i in range(40):
        f = scene.copy()
        cv2.rectangle(f, (10 + 6 * i, 100), (22 + 6 * i, 130), (255, 255, 255), -1)  # 12x30 px of 320x240
        frames.append(f)
    path = write(tmp_path / "walker.mp4", frames)
    result = detect_clip(path, CountingDetector(), sample_fps=2, min_change=0.002)
    assert result.skipped == 0 and len(result.frames) == 8


def test_without_min_change_every_sampled_frame_is_detected(tmp_path, scene):
    path = write(tmp_path / "still.mp4", [scene] * 40)
    result = detect_clip(path, CountingDetector(), sample_fps=2, min_change=0)
    assert len(result.frames) == 8 and result.skipped == 0


def test_frames_go_to_the_detector_in_batches(tmp_path, scene):
    path = write(tmp_path / "still.mp4", [scene] * 100)
    detector = CountingDetector()
    detect_clip(path, detector, sample_fps=2, batch_size=8, min_change=0)
    assert detector.calls == [8, 8, 4]  # 20 sampled frames


def test_changed_fraction():
    a = np.zeros((60, 80), np.uint8)
    b = a.copy()
    b[:6, :8] = 255
    assert changed_fraction(a, a) == 0 and changed_fraction(a, b) == pytest.approx(0.01)


def test_an_undecodable_file_is_invalid(tmp_path):
    (tmp_path / "x.mp4").write_bytes(b"nope")
    with pytest.raises(InvalidVideo):
        detect_clip(tmp_path / "x.mp4", CountingDetector(), sample_fps=2)


def test_corrupt_frames_in_the_middle_do_not_stop_sampling(tmp_path, scene):
    frames = [np.roll(scene, 3 * i, axis=1) for i in range(100)]
    path = write(tmp_path / "ok.mp4", frames)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 3000] = bytes((b * 7 + 13) % 256 for b in data[middle : middle + 3000])
    (tmp_path / "corrupt.mp4").write_bytes(bytes(data))
    result = detect_clip(tmp_path / "corrupt.mp4", CountingDetector(), sample_fps=2, min_change=0)
    assert result.sampled == 20


@pytest.mark.parametrize("size", [(320, 240), (1280, 720), (3840, 2160), (642, 362)])
def test_odd_and_large_resolutions_give_boxes_inside_the_frame(tmp_path, size):
    from inference.detector import load_detector
    from reviewapp.review.demo import photo

    w, h = size
    frames = [cv2.resize(np.roll(photo("astronaut"), 4 * i, axis=1), (w, h)) for i in range(4)]
    result = detect_clip(write(tmp_path / "v.mp4", frames, fps=2), load_detector("centernet:320"), sample_fps=2)
    assert len(result.frames) == 4
    boxes = [b for f in result.frames for b in f.boxes]
    assert max(b.score for b in boxes) > 0.4  # the astronaut, at every size
    assert all(0 <= b.x1 <= b.x2 <= w and 0 <= b.y1 <= b.y2 <= h for b in boxes)


def test_person_boxes_get_a_descriptor_of_their_crop_above_the_minimum_score(tmp_path, scene):
    from inference.suppression import DESCRIPTOR_SIZE, describe

    class TwoBoxes:
        name = version = "two"

        def detect(self, frames):
            return [
                [Box(10, 10, 60, 110, 0.9), Box(100, 50, 150, 150, 0.04), Box(0, 0, 5, 5, 0.9, "car")] for _ in frames
            ]

    path = write(tmp_path / "still.mp4", [scene] * 10)
    result = detect_clip(path, TwoBoxes(), sample_fps=2, describe_min_score=0.05)
    first = result.frames[0]
    assert first.size == (320, 240)
    assert first.descriptors[0].shape == (DESCRIPTOR_SIZE,) and first.descriptors[1:] == [None, None]
    # The descriptor is of the decoded frame's crop (the video's compression, not the raw scene).
    import numpy as np

    assert np.dot(first.descriptors[0], describe(scene, (10, 10, 60, 110))) > 0.95
    off = detect_clip(path, TwoBoxes(), sample_fps=2, describe_boxes=False)
    assert off.frames[0].descriptors == [] and off.describe_s == 0

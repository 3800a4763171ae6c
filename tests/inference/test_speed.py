"""The speed levers of issue #13 that claim to be exact give the same boxes and the same decision."""

import threading
from datetime import UTC, datetime

import numpy as np
import pytest

from inference import defaults
from inference.decision import decide_clip
from inference.detector import DetectorUnavailable
from inference.detectors.plugins.centernet import INT8, CenterNetDetector
from inference.detectors.quantize import calibration_frames
from inference.pipeline import detect_clip
from tests.scenes import write_busy_clip


@pytest.fixture(scope="module")
def busy_clip(tmp_path_factory):
    return write_busy_clip(tmp_path_factory.mktemp("busy") / "busy.mp4", seconds=5, fps=10)


def decide(result):
    return decide_clip(
        result.frames,
        rules=[],
        threshold=defaults.THRESHOLD,
        review_band=defaults.REVIEW_BAND,
        now=datetime(2026, 12, 1, tzinfo=UTC),
        sampled=result.sampled,
    )


def test_decoding_ahead_gives_the_same_frames_boxes_descriptors_and_decision(busy_clip):
    detector = CenterNetDetector(input_size=320, runtime="onnxruntime")
    kwargs = {"sample_fps": 2, "min_change": defaults.MIN_CHANGE, "describe_min_score": 0.1}
    inline = detect_clip(busy_clip, detector, decode_ahead=0, **kwargs)
    ahead = detect_clip(busy_clip, detector, decode_ahead=4, **kwargs)
    assert len(inline.frames) == len(ahead.frames) == 10  # people move: every sampled frame is detected
    for a, b in zip(inline.frames, ahead.frames):
        assert (a.index, a.time, a.boxes, a.size) == (b.index, b.time, b.boxes, b.size)
        assert [d is None for d in a.descriptors] == [d is None for d in b.descriptors]
        assert all(np.array_equal(x, y) for x, y in zip(a.descriptors, b.descriptors) if x is not None)
    assert any(b.score >= 0.1 for f in inline.frames for b in f.boxes)
    assert (inline.measured, inline.brightness_sum) == (ahead.measured, ahead.brightness_sum)
    assert decide(inline) == decide(ahead)


class FailingDetector:
    name = version = "failing"

    def __init__(self):
        self.calls = 0

    def detect(self, frames):
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("the detector broke")
        return [[] for _ in frames]


def test_a_detector_failing_while_frames_are_decoded_ahead_stops_the_decode_thread(busy_clip):
    with pytest.raises(RuntimeError, match="the detector broke"):
        detect_clip(busy_clip, FailingDetector(), sample_fps=10, decode_ahead=2)
    assert not [t for t in threading.enumerate() if t.name == "decode-ahead"]


def test_a_clip_that_cannot_be_read_ahead_raises_as_inline(tmp_path):
    from inference.video import InvalidVideo

    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(InvalidVideo):
        detect_clip(bad, FailingDetector(), sample_fps=2, decode_ahead=4)


def test_the_int8_spec_without_its_file_names_the_export_command(own_model_dir):
    with pytest.raises(DetectorUnavailable, match="onnxruntime-int8 --calibration"):
        CenterNetDetector(model_dir=own_model_dir, input_size=320, runtime=INT8)


def test_calibration_needs_clips(tmp_path, busy_clip):
    with pytest.raises(DetectorUnavailable, match="no clips"):
        calibration_frames(tmp_path)
    (tmp_path / "a.mp4").symlink_to(busy_clip)
    frames = calibration_frames(tmp_path, limit=3)
    assert len(frames) == 3 and frames[0].shape == (480, 640, 3)

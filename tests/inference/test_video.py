import cv2
import numpy as np
import pytest

from inference.video import InvalidVideo, probe, read_frame, sample_frames, sniff_container
from tests.videos import write_video


def test_probe_reads_what_the_video_is(tmp_path):
    info = probe(write_video(tmp_path / "a.mp4", frames=25, size=(320, 240), fps=12.5))
    assert (info.container, info.width, info.height, info.fps, info.frame_count) == ("mp4", 320, 240, 12.5, 25)
    assert info.duration == pytest.approx(2.0)


@pytest.mark.parametrize(
    "head, expected",
    [
        (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 20, "mp4"),
        (b"\x00\x00\x00\x14ftypqt  " + b"\x00" * 20, "mov"),
        (b"\x1a\x45\xdf\xa3" + b"\x00" * 20 + b"webm", "webm"),
        (b"\x1a\x45\xdf\xa3" + b"\x00" * 20 + b"matroska", "mkv"),
        (b"RIFF\x00\x00\x00\x00AVI LIST", "avi"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, None),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 20, None),
        (b"hello world, not a video", None),
    ],
)
def test_sniff_container(head, expected):
    assert sniff_container(head) == expected


def test_a_one_frame_video_is_refused(tmp_path):
    with pytest.raises(InvalidVideo, match="at least 2"):
        probe(write_video(tmp_path / "one.mp4", frames=1))


def test_an_mjpeg_avi_is_accepted(tmp_path):
    path = tmp_path / "a.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 5, (160, 120))
    for i in range(10):
        writer.write(np.full((120, 160, 3), i * 20, np.uint8))
    writer.release()
    assert probe(path).container == "avi"


@pytest.mark.parametrize(
    "native_fps, frames, sample_fps, expected_times",
    [
        (10, 30, 2, [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]),
        (25, 50, 1, [0.0, 1.0]),
        (5, 10, 2, [0.0, 0.6, 1.0, 1.6]),  # 5 fps cannot land on .5: the next frame after each step
        (4, 8, 10, [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75]),  # asking for more than exists: every frame
    ],
)
def test_sample_frames_takes_about_the_asked_rate(tmp_path, native_fps, frames, sample_fps, expected_times):
    path = write_video(tmp_path / "a.mp4", frames=frames, fps=native_fps)
    times = [f.time for f in sample_frames(path, fps=sample_fps)]
    assert times == pytest.approx(expected_times, abs=1e-3)


def test_sampled_frames_are_the_decoded_images(tmp_path):
    path = write_video(tmp_path / "a.mp4", frames=20, fps=10, size=(320, 240))
    frames = list(sample_frames(path, fps=2))
    assert all(f.image.shape == (240, 320, 3) and f.image.dtype == np.uint8 for f in frames)
    assert [f.index for f in frames] == [0, 5, 10, 15]
    # read_frame seeks to the same frame the sampler saw
    assert np.abs(read_frame(path, 10).astype(int) - frames[2].image.astype(int)).mean() < 2


def test_read_frame_past_the_end_is_invalid(tmp_path):
    with pytest.raises(InvalidVideo):
        read_frame(write_video(tmp_path / "a.mp4", frames=5), 50)


def test_a_variable_frame_rate_clip_is_sampled_by_timestamp(tmp_path):
    import fractions

    import av  # PyAV writes the frame timestamps we choose; OpenCV's writer cannot

    path = tmp_path / "vfr.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.codec_context.time_base = fractions.Fraction(1, 1000)
        # 1 s of video, a 2 s gap (the camera dropped frames), then 1 s more
        for t in [i / 10 for i in range(10)] + [3 + i / 10 for i in range(10)]:
            frame = av.VideoFrame.from_ndarray(np.full((240, 320, 3), 100, np.uint8), format="rgb24")
            frame.pts, frame.time_base = round(t * 1000), fractions.Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    times = [f.time for f in sample_frames(path, fps=2)]
    assert times == pytest.approx([0.0, 0.5, 3.0, 3.5], abs=0.01)  # no burst of frames to "catch up" the gap


def _write_rotated(path, *, degrees: int, size=(320, 240), frames=10):
    """A clip stored landscape with a display matrix, as phones and some cameras write it.

    A red block marks the stored image's top-left corner.
    """
    import av  # PyAV writes the display matrix; OpenCV's writer cannot

    w, h = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.set_display_rotation(degrees)
        for _ in range(frames):
            img = np.zeros((h, w, 3), np.uint8)
            img[:40, :80] = (0, 0, 255)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _red_block(image) -> tuple[int, int, int, int]:
    ys, xs = np.where((image[:, :, 2] > 200) & (image[:, :, 0] < 60))
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


@pytest.mark.parametrize(
    "degrees, shape, block",
    [
        (0, (240, 320), (0, 0, 79, 39)),
        (90, (320, 240), (0, 240, 39, 319)),  # counter-clockwise: the top-left corner goes bottom-left
        (180, (240, 320), (240, 200, 319, 239)),
        (270, (320, 240), (200, 0, 239, 79)),
    ],
)
def test_rotation_metadata_is_applied_everywhere_a_frame_is_read(tmp_path, degrees, shape, block):
    # The detector, the reviewer's frame strip and the stored width/height must agree on which
    # way is up, or boxes land in the wrong place (and people lying sideways go undetected).
    path = _write_rotated(tmp_path / "phone.mp4", degrees=degrees)
    info = probe(path)
    assert (info.height, info.width) == shape
    sampled = next(sample_frames(path, fps=2)).image
    assert sampled.shape[:2] == shape
    assert _red_block(sampled) == pytest.approx(block, abs=2)
    shown = read_frame(path, 3)
    assert shown.shape[:2] == shape
    assert _red_block(shown) == pytest.approx(block, abs=2)

"""Ingest's bounds, checked before a frame is decoded: size in pixels (both ways), pixels per
second, video streams; and the body's size while it streams in."""

import io

import av
import numpy as np
import pytest

from inference import video as video_module
from reviewapp.core.uploads import BodyTooLarge, LimitedUploadHandler
from reviewapp.review.models import Clip
from tests.conftest import api_client
from tests.reviewapp.test_ingest import post_clip, stored_files


def write_pyav(path, *, size, frames=2, streams=1, codec="mpeg4", fps=10):
    """A flat grey video of any size (PyAV): a 4352 x 4352 px clip of a few hundred KB."""
    width, height = size
    with av.open(str(path), "w") as out:
        encoders = [out.add_stream(codec, rate=fps) for _ in range(streams)]
        for s in encoders:
            s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        image = np.full((height, width, 3), 128, np.uint8)
        for _ in range(frames):
            for s in encoders:
                out.mux(s.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        for s in encoders:
            out.mux(s.encode())
    return path


@pytest.fixture
def no_ffmpeg(monkeypatch):
    """Any use of OpenCV's decoder fails the test: what is refused here is refused on headers."""

    def refuse(*args, **kwargs):
        raise AssertionError("the file was opened with FFmpeg")

    monkeypatch.setattr(video_module.cv2, "VideoCapture", refuse)


def _refused(world, settings, path, words):
    response = post_clip(api_client(world.ingest), path)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_video" and words in error["message"]
    assert Clip.objects.count() == 0 and stored_files(settings) == []


def test_a_huge_mp4_is_refused_from_its_header(world, settings, tmp_path, no_ffmpeg):
    _refused(
        world, settings, write_pyav(tmp_path / "big.mp4", size=(4352, 4352)), "4352x4352 px; the limit is 4096x4096"
    )


def test_a_1x1_video_is_refused(world, settings, tmp_path, no_ffmpeg):
    _refused(world, settings, write_pyav(tmp_path / "dot.mp4", size=(1, 1)), "1x1 px; at least 16x16")


def test_too_many_video_streams_are_refused(world, settings, tmp_path, no_ffmpeg):
    _refused(world, settings, write_pyav(tmp_path / "three.mp4", size=(64, 64), streams=3), "3 video streams")


def test_other_containers_are_checked_after_opening_before_decoding(world, settings, video, monkeypatch):
    settings.CLIP_MAX_WIDTH = 200  # the 320 x 240 test clip is too wide
    real = video_module.cv2.VideoCapture

    class NoDecode:
        def __init__(self, *args):
            self.cap = real(*args)

        def read(self):
            raise AssertionError("a frame was decoded")

        def __getattr__(self, name):
            return getattr(self.cap, name)

    monkeypatch.setattr(video_module.cv2, "VideoCapture", NoDecode)
    _refused(world, settings, video("clip.avi"), "320x240 px; the limit is 200x4096")


def test_pixels_per_second_are_bounded(world, settings, video):
    settings.CLIP_MAX_PIXELS_PER_SECOND = 320 * 240 * 5  # the test clip has 10 fps
    _refused(world, settings, video(), "pixels per second")


def test_a_clip_within_the_bounds_is_accepted(world, tmp_path):
    response = post_clip(api_client(world.ingest), write_pyav(tmp_path / "ok.mp4", size=(64, 48), frames=3))
    assert response.status_code == 201, response.content
    assert (response.json()["width"], response.json()["height"]) == (64, 48)


def test_the_body_is_refused_once_over_the_limit_while_it_streams_in(settings):
    handler = LimitedUploadHandler(max_bytes=1000)
    handler.handle_raw_input(io.BytesIO(), {}, None, b"x")  # chunked: no declared length
    handler.new_file("file", "clip.mp4", "video/mp4", None)
    handler.receive_data_chunk(b"\0" * 600, 0)
    with pytest.raises(BodyTooLarge):
        handler.receive_data_chunk(b"\0" * 600, 600)
    with pytest.raises(BodyTooLarge):  # a declared length over the limit: before a byte is read
        LimitedUploadHandler(max_bytes=1000).handle_raw_input(io.BytesIO(), {}, 10_000_000, b"x")


def test_an_upload_over_the_limit_is_a_413_and_stores_nothing(world, settings, video):
    settings.CLIP_MAX_BYTES = 10_000
    response = post_clip(api_client(world.ingest), video())
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"
    assert Clip.objects.count() == 0 and stored_files(settings) == []


@pytest.mark.django_db
def test_a_clip_by_reference_is_bounded_like_an_upload(world, bucket, tmp_path):
    for name, size, streams, words in [("dot", (1, 1), 1, "1x1 px"), ("three", (64, 64), 3, "3 video streams")]:
        key = f"clips/acme-door/{name}.mp4"
        bucket.put(key, write_pyav(tmp_path / f"{name}.mp4", size=size, streams=streams))
        response = api_client(world.ingest).post("/api/v1/clips/", {"camera": "acme-door", "key": key}, format="json")
        assert response.status_code == 400, response.content
        assert response.json()["error"]["code"] == "invalid_video" and words in response.json()["error"]["message"]
    assert Clip.objects.count() == 0


def test_deep_json_on_the_clip_endpoint_is_a_400(world):
    response = api_client(world.ingest).post("/api/v1/clips/", "[" * 5000, content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"

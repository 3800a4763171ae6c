"""Checking and sampling video files with OpenCV.

`probe` is what the ingest API runs before it accepts a file; `sample_frames` is what the
pipeline feeds the detector. Both take a path: OpenCV's FFmpeg backend reads files, not streams.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from inference.mp4_header import HeaderError, video_tracks


class InvalidVideo(ValueError):
    """The file is not a video we can process; the message says why, for the uploader."""


@dataclass(frozen=True)
class VideoInfo:
    container: str  # file extension to store it under: mp4, mkv, webm, avi, ts
    width: int
    height: int
    fps: float
    frame_count: int

    @property
    def duration(self) -> float:
        return self.frame_count / self.fps if self.fps else 0.0


def sniff_container(head: bytes) -> str | None:
    """The container named by the file's first bytes, or None when it is not a video container.

    OpenCV's FFmpeg backend happily opens a PNG or a JPEG as a one-frame "video", so the
    magic bytes are checked first.
    """
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "mov" if head[8:12] == b"qt  " else "mp4"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm" if b"webm" in head[:64] else "mkv"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if len(head) >= 189 and head[0] == 0x47 and head[188] == 0x47:
        return "ts"
    return None


@dataclass(frozen=True)
class VideoLimits:
    """What a clip may be, checked before any frame is decoded (the web process would
    otherwise allocate a 10000 x 10000 frame for anyone who uploads one)."""

    max_width: int = 4096
    max_height: int = 4096
    min_width: int = 16
    min_height: int = 16
    max_pixels_per_second: float = 4096 * 2160 * 30  # 4K at 30 fps
    max_video_streams: int = 2  # counted in MP4/MOV headers

    def check_size(self, width: int, height: int, fps: float | None = None) -> None:
        if width > self.max_width or height > self.max_height:
            raise InvalidVideo(f"the video is {width}x{height} px; the limit is {self.max_width}x{self.max_height}")
        if width < self.min_width or height < self.min_height:
            raise InvalidVideo(f"the video is {width}x{height} px; at least {self.min_width}x{self.min_height}")
        if fps is not None and width * height * fps > self.max_pixels_per_second:
            raise InvalidVideo(
                f"the video has {width * height * fps:.3g} pixels per second; the limit is "
                f"{self.max_pixels_per_second:.3g}"
            )


def _check_header(path: str, limits: VideoLimits) -> None:
    """MP4/MOV: the declared video tracks, from the box headers, before FFmpeg opens the file."""
    try:
        with open(path, "rb") as f:
            tracks = video_tracks(f)
    except HeaderError:
        return  # FFmpeg gives its own verdict; the sizes are checked again after it opened the file
    if len(tracks) > limits.max_video_streams:
        raise InvalidVideo(f"the file has {len(tracks)} video streams; the limit is {limits.max_video_streams}")
    for width, height in tracks:
        limits.check_size(width, height)


def probe(
    path: str | Path,
    *,
    max_duration: float | None = None,
    min_frames: int = 2,
    limits: VideoLimits | None = None,
) -> VideoInfo:
    """Open the file, read its first and last frames and return what it is, or raise InvalidVideo.
    With `limits`, the sizes are checked before the first frame is decoded."""
    path = str(path)
    with open(path, "rb") as f:
        head = f.read(512)
    if not head:
        raise InvalidVideo("the file is empty")
    container = sniff_container(head)
    if container is None:
        raise InvalidVideo("the file is not a video container (MP4, MOV, MKV, WebM, AVI or MPEG-TS)")
    if limits is not None and container in ("mp4", "mov"):
        _check_header(path, limits)

    cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise InvalidVideo("the video cannot be opened (truncated or corrupt file?)")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        if fps <= 0 or fps > 1000:
            raise InvalidVideo(f"the video has no usable frame rate ({fps:g} fps)")
        if frames < min_frames:
            raise InvalidVideo(f"the video has {frames} frame(s); at least {min_frames} are needed")
        if limits is not None:  # the stream's header, as FFmpeg read it: still no frame decoded
            width, height = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            limits.check_size(width, height, fps)
        ok, first = cap.read()
        if not ok or first is None:
            raise InvalidVideo("the first frame cannot be decoded")
        info = VideoInfo(container, first.shape[1], first.shape[0], fps, frames)
        if max_duration is not None and info.duration > max_duration:
            raise InvalidVideo(f"the video lasts {info.duration:.1f} s; the limit is {max_duration:g} s")
        # A file cut short usually still opens (its index is at the start) but its end is gone.
        cap.set(cv2.CAP_PROP_POS_FRAMES, max(frames - 1, 0))
        ok, last = cap.read()
        if not ok or last is None:
            raise InvalidVideo("the end of the video cannot be decoded (truncated file?)")
        return info
    finally:
        cap.release()


@dataclass(frozen=True)
class Frame:
    index: int
    time: float  # seconds from the start of the clip
    image: np.ndarray  # BGR uint8


def sample_frames(path: str | Path, *, fps: float) -> Iterator[Frame]:
    """Yield about `fps` frames per second of video.

    Frames between samples are only grabbed (demuxed and decoded, not converted to BGR),
    which skips the costliest part of reading a frame we will throw away.
    """
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        raise InvalidVideo("the video cannot be opened")
    try:
        native_fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0) or 25.0
        step = 1.0 / fps
        next_time = 0.0
        index = 0
        while cap.grab():
            pos_ms = cap.get(cv2.CAP_PROP_POS_MSEC)
            t = pos_ms / 1000.0 if pos_ms and pos_ms > 0 else index / native_fps
            if t + 1e-6 >= next_time:
                ok, image = cap.retrieve()
                if ok and image is not None:
                    yield Frame(index=index, time=round(t, 3), image=image)
                    next_time += step
                    while next_time <= t:  # a gap in the stream: do not burst to catch up
                        next_time += step
            index += 1
    finally:
        cap.release()


def read_frame(path: str | Path, index: int) -> np.ndarray:
    """One frame by index (seeking), for showing a reviewer what the detector saw."""
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    try:
        if not cap.isOpened():
            raise InvalidVideo("the video cannot be opened")
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, image = cap.read()
        if not ok or image is None:
            raise InvalidVideo(f"frame {index} cannot be decoded")
        return image
    finally:
        cap.release()

"""The video tracks an MP4/MOV file declares, read from its box headers without FFmpeg.

`probe` checks them against the limits before anything opens, let alone decodes, the file: a
10000 x 10000 px clip is refused for a few kilobytes read, not after a gigabyte of frames.
Only the boxes on the way to each track's sample description are read; `mdat` is skipped.
"""

from __future__ import annotations

import struct
from typing import BinaryIO

MAX_MOOV_BYTES = 64 * 1024 * 1024  # the index of a 3-minute clip is a few hundred KB
CONTAINERS = {b"trak", b"mdia", b"minf", b"stbl"}


class HeaderError(ValueError):
    """The box structure is not what an MP4 should be: let FFmpeg give its own verdict."""


def _boxes(data: bytes):
    """(type, payload) of each box in `data`."""
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > len(data):
                raise HeaderError("truncated box header")
            size, header = struct.unpack(">Q", data[pos + 8 : pos + 16])[0], 16
        elif size == 0:
            size = len(data) - pos
        if size < header or pos + size > len(data):
            raise HeaderError(f"bad size for box {kind!r}")
        yield kind, data[pos + header : pos + size]
        pos += size


def _moov(f: BinaryIO) -> bytes:
    """The payload of the file's top-level `moov` box (before or after `mdat`)."""
    f.seek(0, 2)
    end = f.tell()
    pos = 0
    while pos + 8 <= end:
        f.seek(pos)
        size, kind = struct.unpack(">I4s", f.read(8))
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", f.read(8))[0], 16
        elif size == 0:
            size = end - pos
        if size < header:
            raise HeaderError(f"bad size for box {kind!r}")
        if kind == b"moov":
            if size > MAX_MOOV_BYTES:
                raise HeaderError("the moov box is too large")
            return f.read(size - header)
        pos += size
    raise HeaderError("no moov box")


def _video_track_size(trak: bytes) -> tuple[int, int] | None:
    """(width, height) of the track's first sample description when it is a video track."""
    handler, size = None, None
    stack = [trak]
    while stack:
        for kind, payload in _boxes(stack.pop()):
            if kind in CONTAINERS:
                stack.append(payload)
            elif kind == b"hdlr" and len(payload) >= 12:
                handler = payload[8:12]
            elif kind == b"stsd" and len(payload) >= 8 + 36 and size is None:
                # version/flags, entry count, then a VisualSampleEntry: 8-byte box header,
                # 6 reserved, data reference index, 16 bytes of pre-defined/reserved, width, height.
                size = struct.unpack(">HH", payload[8 + 32 : 8 + 36])
    return size if handler == b"vide" else None


def video_tracks(f: BinaryIO) -> list[tuple[int, int]]:
    """(width, height) of every video track of the MP4/MOV open in `f`. Raises HeaderError
    when the box structure cannot be read."""
    sizes = []
    for kind, payload in _boxes(_moov(f)):
        if kind == b"trak" and (size := _video_track_size(payload)) is not None:
            sizes.append(size)
    return sizes

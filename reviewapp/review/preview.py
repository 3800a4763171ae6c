"""A browser copy of each clip: H.264 in MP4 when the original is not something browsers play.

Cameras send MPEG-4 Part 2 (mp4v), which only Firefox plays; Chromium and Safari answer
"source not supported". Once a clip's result is recorded, the worker queues its preview
(`clip_preview_enqueue`, a task of its own on the inference queue): the alert never waits for
it, and a preview that fails (or crashes the encoder) costs the clip nothing. PREVIEW_CLIPS
says which: `all` (the default), or `shown`, only the clips people are shown (alerts and review
items), for a fleet where a copy of every minute of every camera costs too much CPU. The preview is
stored beside the clip (same storage, same name with `.preview.mp4`), the pages play it, and
the original stays the evidence (still downloadable). A preview that cannot be made is logged
and counted; the pages then fall back to the original and the frame strip.

`encode_preview` is plain PyAV (no Django), so the benchmark and the tests call it directly.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction

from reviewapp.core import logs, metrics
from reviewapp.core.storage import clip_local_file, preview_storage_name
from reviewapp.review.models import Clip

log = logging.getLogger(__name__)

MAKE_PREVIEW_TASK = "reviewapp.tasks.make_preview"  # reviewapp.review.tasks.make_preview

ENCODER = "libx264"  # PyAV's wheels ship it (av.codecs_available); openh264 is not built in
# What Chromium, Firefox and Safari all play, by container: anything else gets a preview.
PLAYABLE = {"mp4": {"h264", "vp9", "av1"}, "mov": {"h264"}, "webm": {"vp8", "vp9", "av1"}}
PLAYABLE_PIXELS = {"yuv420p", "yuvj420p"}


@dataclass(frozen=True)
class PreviewResult:
    frames: int
    duration: float  # seconds, from the first frame's timestamp to the end of the last one
    width: int
    height: int
    size_bytes: int


def needs_preview(path: str | Path) -> bool:
    """True unless the file is already a video every browser plays (H.264/VP9 4:2:0 in MP4/WebM)."""
    # By the file's extension, the one it is stored and served under (its Content-Type).
    import av  # here: PyAV must be in the runtime lock; without it a clip goes on without preview

    codecs = PLAYABLE.get(Path(path).suffix.lower().lstrip("."), set())
    with av.open(str(path)) as container:
        if not container.streams.video:
            return False  # nothing to show: ingest does not accept such a file anyway
        ctx = container.streams.video[0].codec_context
        return not (ctx.name in codecs and ctx.pix_fmt in PLAYABLE_PIXELS)


def _output_size(width: int, height: int, max_height: int) -> tuple[int, int]:
    """Scaled down to max_height (never up), both sides even: yuv420p needs it."""
    scale = min(1.0, max_height / height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def encode_preview(
    src: str | Path, dst: str | Path, *, max_height: int = 480, crf: int = 30, preset: str = "veryfast"
) -> PreviewResult:
    """Re-encode src's video as H.264 (yuv420p, faststart MP4) into dst; audio is dropped.

    Every decoded frame is kept at its own timestamp (camera clips are often variable rate),
    so the preview lasts as long as the original and seeking to t shows the original's frame t.
    Raises av.FFmpegError (or ValueError for a file without video) when it cannot be done.
    """
    import av

    with av.open(str(src)) as inp:
        if not inp.streams.video:
            raise ValueError("the file has no video stream")
        in_stream = inp.streams.video[0]
        in_stream.thread_type = "AUTO"
        ctx = in_stream.codec_context
        width, height = _output_size(ctx.width, ctx.height, max_height)
        rate = in_stream.average_rate or in_stream.guessed_rate or Fraction(25)
        time_base = in_stream.time_base or Fraction(1, 90000)
        with av.open(str(dst), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            stream = out.add_stream(ENCODER, rate=rate)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.time_base = time_base
            stream.codec_context.time_base = time_base
            stream.options = {"crf": str(crf), "preset": preset, "profile": "high"}
            frames, first, last = _transcode(inp, in_stream, out, stream, width, height)
    duration = float((last - first) * time_base + 1 / rate) if frames else 0.0
    return PreviewResult(frames, duration, width, height, os.path.getsize(dst))


def _transcode(inp, in_stream, out, stream, width: int, height: int) -> tuple[int, int, int]:
    """Decode, scale, encode every frame; (frames, first pts, last pts) in the input's time base."""
    frames, first, last = 0, None, None
    for frame in inp.decode(in_stream):
        if frame.pts is None:  # a frame without a timestamp: put it after the previous one
            frame.pts = 0 if last is None else last + 1
        if last is not None and frame.pts <= last:
            continue  # a repeated timestamp would stop the muxer
        first = frame.pts if first is None else first
        last = frame.pts
        scaled = frame.reformat(width=width, height=height, format="yuv420p")
        scaled.pts, scaled.time_base = frame.pts - first, in_stream.time_base
        out.mux(stream.encode(scaled))
        frames += 1
    out.mux(stream.encode(None))
    return frames, first or 0, last or 0


def clip_preview_enqueue(*, clip_id, force: bool = False) -> None:
    """Queue the clip's preview once the current transaction (if any) commits, by the task's name.
    `force`: whatever PREVIEW_CLIPS says (an operator asked for this clip's)."""
    args = [str(clip_id), True] if force else [str(clip_id)]
    transaction.on_commit(lambda: current_app.send_task(MAKE_PREVIEW_TASK, args=args))


def clip_preview_make(*, clip_id, force: bool = False) -> str:
    """The task's service: write the processed clip's preview and record its name. Returns the
    name ("" when none is needed or it failed). A preview already there is kept (a redelivered
    task); a clip processed again gets a new one. Raises StorageError(retryable) only when the
    clip cannot be read from storage: the task retries that."""
    clip = Clip.objects.filter(id=clip_id, status=Clip.Status.DONE).select_related("camera").first()
    if clip is None:
        return ""
    logs.bind(camera=clip.camera.name)  # undone when the task's context ends
    if settings.PREVIEW_CLIPS == "shown" and not force and not _shown(clip):
        metrics.preview_done(outcome="skipped", seconds=0.0)
        return ""
    if clip.preview.name and default_storage.exists(clip.preview.name):
        return clip.preview.name
    try:
        with clip_local_file(clip) as path:
            name = clip_preview_write(clip=clip, path=path)
    except FileNotFoundError:
        log.warning("no preview for clip %s: its file is gone", clip.id)
        return ""
    if name:
        Clip.objects.filter(id=clip.id).update(preview=name)
    return name


def _shown(clip: Clip) -> bool:
    """A clip people are shown: its customer's alert, or an item of the review queue (Label
    Studio's tasks are made from those too). PREVIEW_CLIPS=shown previews only these."""
    return bool(clip.alert) or hasattr(clip, "review_item")


def clip_preview_write(*, clip, path: str | Path) -> str:
    """Write the clip's preview beside it and return its storage name; "" when the original
    plays in browsers already or the preview could not be made (logged and counted, never raised:
    a preview is a convenience, the clip and its alert must not depend on it)."""
    started = time.monotonic()
    try:
        if not needs_preview(path):
            metrics.preview_done(outcome="not_needed", seconds=time.monotonic() - started)
            return ""
        name = _preview_store(clip=clip, path=path)
    except SoftTimeLimitExceeded:
        raise  # the task's time is up: Celery ends it (the clip itself is done already)
    except Exception:  # whatever went wrong, the clip goes on without a preview
        log.exception("no preview for clip %s", clip.id)
        metrics.preview_done(outcome="failed", seconds=time.monotonic() - started)
        return ""
    metrics.preview_done(outcome="written", seconds=time.monotonic() - started)
    return name


def _preview_store(*, clip, path: str | Path) -> str:
    name = preview_storage_name(clip.file.name)
    with tempfile.TemporaryDirectory(prefix="vigia-preview-") as tmp:
        local = Path(tmp) / "preview.mp4"
        result = encode_preview(
            path,
            local,
            max_height=settings.PREVIEW_MAX_HEIGHT,
            crf=settings.PREVIEW_CRF,
            preset=settings.PREVIEW_PRESET,
        )
        if result.frames == 0:
            raise ValueError("no frame could be decoded")
        # Stored under its own name: a clip processed again replaces its preview, it does not
        # pile up copies (the local storage would otherwise pick another name).
        if default_storage.exists(name):
            default_storage.delete(name)
        with open(local, "rb") as f:
            stored = default_storage.save(name, File(f))
    log.info(
        "preview of clip %s: %d frames %dx%d, %d bytes (original %d)",
        clip.id,
        result.frames,
        result.width,
        result.height,
        result.size_bytes,
        clip.size_bytes,
    )
    return stored

"""Ingest: check an uploaded clip, store it and queue it for detection."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from datetime import datetime

from celery import current_app
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from inference.video import InvalidVideo, VideoLimits, probe
from reviewapp.core import logs, metrics
from reviewapp.core.errors import ApplicationError
from reviewapp.core.storage import clip_storage_name
from reviewapp.review.models import Camera, Clip

log = logging.getLogger(__name__)

PROCESS_CLIP_TASK = "reviewapp.tasks.process_clip"  # reviewapp.review.tasks.process_clip


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def clip_ingest(
    *, camera: Camera, path: str, recorded_at: datetime, external_id: str | None = None
) -> tuple[Clip, bool]:
    """Check and store one uploaded clip and queue it for detection.

    Returns (clip, created). The same external_id, or the same bytes for the same camera,
    returns the clip already stored. A file that is not a decodable video within the limits
    raises ApplicationError and nothing is stored. A clip stored while the broker is down
    stays `queued` (its `sent_to_worker` is False) for the stuck-clip sweep to send.
    """
    if external_id and (existing := _clip_with_external_id(camera, external_id)) is not None:
        return existing, False
    size, sha = _checked_size(path), _sha256(path)
    existing = Clip.objects.filter(camera=camera, sha256=sha).first()
    if existing is not None:
        return existing, False
    try:
        info = probe(path, max_duration=settings.CLIP_MAX_SECONDS, limits=video_limits())
    except InvalidVideo as exc:
        raise ApplicationError(str(exc), code="invalid_video", fields={"file": [str(exc)]}) from exc
    clip = Clip(
        camera=camera,
        recorded_at=recorded_at,
        external_id=external_id or None,
        sha256=sha,
        size_bytes=size,
        duration=info.duration,
        fps=info.fps,
        width=info.width,
        height=info.height,
    )
    name = clip_storage_name(camera_name=camera.name, clip_id=clip.id, recorded_at=recorded_at, ext=info.container)
    # Upload before the row exists, outside any transaction: it can take long on S3.
    with open(path, "rb") as f:
        clip.file.name = default_storage.save(name, File(f))
    winner = _clip_save(clip)
    if winner is not clip:
        return winner, False
    with logs.log_context(clip_id=clip.id, camera=camera.name):
        log.info("clip %s ingested for camera %s (%d bytes, %.1f s)", clip.id, camera.name, size, info.duration)
    metrics.clip_received(camera)
    return clip, True


def _clip_with_external_id(camera: Camera, external_id: str) -> Clip | None:
    existing = Clip.objects.filter(external_id=external_id).first()
    if existing is not None and existing.camera_id != camera.id:
        raise ApplicationError(
            f"external_id {external_id!r} is already used by another camera's clip", code="conflict", status_code=409
        )
    return existing


def video_limits() -> VideoLimits:
    return VideoLimits(
        max_width=settings.CLIP_MAX_WIDTH,
        max_height=settings.CLIP_MAX_HEIGHT,
        min_width=settings.CLIP_MIN_WIDTH,
        min_height=settings.CLIP_MIN_HEIGHT,
        max_pixels_per_second=settings.CLIP_MAX_PIXELS_PER_SECOND,
        max_video_streams=settings.CLIP_MAX_VIDEO_STREAMS,
    )


def _checked_size(path: str) -> int:
    size = os.path.getsize(path)
    if size == 0:
        raise ApplicationError("the file is empty", code="invalid_video", fields={"file": ["empty file"]})
    if size > settings.CLIP_MAX_BYTES:
        raise ApplicationError(
            f"the file has {size} bytes; the limit is {settings.CLIP_MAX_BYTES}",
            code="file_too_large",
            fields={"file": ["too large"]},
        )
    return size


def _clip_save(clip: Clip, *, owns_file: bool = True) -> Clip:
    """Insert the row and queue it once committed. Returns the clip stored: this one, or the
    one of a concurrent upload of the same clip (same camera and bytes, or same external_id)
    that won the race (our file is then dropped).
    `owns_file=False` (a clip ingested by reference): the file is not ours, never deleted."""
    clip.sent_at = timezone.now()  # sent once committed; set back to NULL if the send fails
    try:
        with transaction.atomic():
            clip.save(force_insert=True)
    except IntegrityError:
        if owns_file:
            default_storage.delete(clip.file.name)  # no row points at it: ours lost the race
        existing = Clip.objects.filter(camera=clip.camera, sha256=clip.sha256).first()
        if existing is None and clip.external_id:
            existing = _clip_with_external_id(clip.camera, clip.external_id)  # 409 if another camera's
        if existing is None:
            raise
        return existing
    except BaseException:
        if owns_file:
            default_storage.delete(clip.file.name)  # the row was not committed: nothing stored half-way
        raise
    # From here on a committed row points at the file: it is never deleted, whatever the broker does.
    transaction.on_commit(lambda: _clip_enqueue_or_leave_queued(clip))
    return clip


def _clip_enqueue_or_leave_queued(clip: Clip) -> None:
    """Send the clip to the worker; when the broker is down, leave it `queued` for the
    stuck-clip sweep (reviewapp.tasks.requeue_stuck_clips) to send later."""
    try:
        clip_enqueue(clip.id)
    except Exception as exc:  # kombu's OperationalError, a socket error, a timeout...
        clip.sent_to_worker = False
        # Unsent: the sweep sends it at its next run (if this fails too: once STUCK_QUEUED_CLIP_SECONDS passed).
        with contextlib.suppress(DatabaseError):
            Clip.objects.filter(id=clip.id, status=Clip.Status.QUEUED).update(sent_at=None)
        with logs.log_context(clip_id=clip.id, camera=clip.camera.name):
            log.warning("clip %s stored but not sent to the worker (%s); the sweep will send it", clip.id, exc)
        return
    clip.sent_to_worker = True


def clip_enqueue(clip_id) -> None:
    """Queue the clip for the worker, by the task's name: services never import their tasks."""
    current_app.send_task(PROCESS_CLIP_TASK, args=[str(clip_id)])

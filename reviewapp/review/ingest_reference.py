"""Ingest by reference: a clip that is already in the clip bucket stays where it landed, and the
Clip row points at it (its storage name is the object's key). Used by the bucket's event
consumer (reviewapp.review.events) and by `POST /api/v1/clips/` with `{"camera", "key"}`.

The checks are the upload's (reviewapp.review.ingest): size and type from a HEAD first, then the
bytes are copied to a temporary file for OpenCV's probe and the sha256 (OpenCV's FFmpeg backend
reads files, and the probe reads the first and the last frame). The copy is thrown away: nothing
is written to the bucket, and a refused object is left as it is.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import UTC, datetime
from pathlib import PurePosixPath

from django.conf import settings
from django.utils.dateparse import parse_datetime

from inference.video import InvalidVideo, probe
from reviewapp.core import logs, metrics, s3
from reviewapp.core.errors import ApplicationError
from reviewapp.review.ingest import _clip_save, _clip_with_external_id, video_limits
from reviewapp.review.models import Camera, Clip

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = {"mp4", "m4v", "mov", "mkv", "webm", "avi", "ts"}
_UNTYPED = {"", "application/octet-stream", "binary/octet-stream"}
RECORDED_AT_METADATA = "recorded-at"  # x-amz-meta-recorded-at, ISO 8601
# x-amz-meta-vigia-origin: set on every object Vigia writes itself (settings' S3 options): an
# uploaded clip's file is in the bucket before its row, so its event must not make a clip.
OWN_OBJECT_METADATA = "vigia-origin"


KEY_MAX_LENGTH = Clip._meta.get_field("file").max_length
EXTERNAL_ID_MAX_LENGTH = Clip._meta.get_field("external_id").max_length


class OwnObject(Exception):  # not an error: an object Vigia wrote, nothing to do
    """The object was written by Vigia itself (an uploaded clip, a clip's detail)."""


def reference_external_id(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def camera_name_from_key(key: str) -> str | None:
    """`clips/<camera>/...` -> the camera's name (the layout reviewapp.core.storage writes)."""
    parts = key.split("/")
    if len(parts) < 3 or parts[0] != "clips" or not parts[1] or not parts[-1]:
        return None
    return parts[1]


def clip_ingest_reference(
    *,
    camera: Camera,
    bucket: str,
    key: str,
    recorded_at: datetime | None = None,
    fallback_time: datetime | None = None,
    skip_own: bool = False,
) -> tuple[Clip, bool]:
    """Check the object s3://bucket/key and make it a clip of `camera`, queued for detection.

    Returns (clip, created); the same object again (same external_id, `s3://<bucket>/<key>`) or
    the same bytes for the same camera returns the clip already stored. `recorded_at` when
    given, else the object's `recorded-at` metadata, else `fallback_time` (the event's time),
    else the object's last-modified time. Raises ApplicationError (its code says why: nothing is
    stored) or reviewapp.core.errors.StorageError when the bucket cannot be read; with
    `skip_own`, OwnObject for an object Vigia wrote itself (the event consumer's case).
    """
    external_id = _checked_reference(camera=camera, bucket=bucket, key=key)
    if (existing := _clip_with_external_id(camera, external_id)) is not None:
        return existing, False
    head = _checked_head(bucket=bucket, key=key, skip_own=skip_own)
    recorded_at = recorded_at or _recorded_at(head) or fallback_time or head.last_modified
    sha, info = _download_and_probe(bucket=bucket, key=key, head=head)
    existing = Clip.objects.filter(camera=camera, sha256=sha).first()
    if existing is not None:
        return existing, False
    clip = Clip(
        camera=camera,
        recorded_at=recorded_at,
        external_id=external_id,
        sha256=sha,
        size_bytes=head.size,
        duration=info.duration,
        fps=info.fps,
        width=info.width,
        height=info.height,
    )
    clip.file.name = key  # by reference: the object stays where it landed
    winner = _clip_save(clip, owns_file=False)
    if winner is not clip:
        return winner, False
    with logs.log_context(clip_id=clip.id, camera=camera.name):
        log.info(
            "clip %s ingested by reference from %s (%d bytes, %.1f s)", clip.id, external_id, head.size, info.duration
        )
    metrics.clip_received(camera)
    return clip, True


def _checked_reference(*, camera: Camera, bucket: str, key: str) -> str:
    if not settings.CLIP_BUCKET or bucket != settings.CLIP_BUCKET:
        raise ApplicationError(
            f"clips are read by reference from the clip bucket only ({settings.CLIP_BUCKET or 'CLIP_BUCKET is unset'})",
            code="wrong_bucket",
            fields={"key": ["not in the clip bucket"]},
        )
    if camera_name_from_key(key) != camera.name:
        raise ApplicationError(
            f"the key must be under clips/{camera.name}/", code="bad_key", fields={"key": ["not this camera's"]}
        )
    external_id = reference_external_id(bucket, key)
    if len(key) > KEY_MAX_LENGTH or len(external_id) > EXTERNAL_ID_MAX_LENGTH:
        raise ApplicationError(
            f"the key is too long (s3://bucket/key at most {EXTERNAL_ID_MAX_LENGTH} characters)",
            code="key_too_long",
            fields={"key": ["too long"]},
        )
    return external_id


def _checked_head(*, bucket: str, key: str, skip_own: bool = False) -> s3.ObjectHead:
    try:
        head = s3.object_head(bucket=bucket, key=key)
    except s3.ObjectMissing as exc:
        raise ApplicationError(str(exc), code="not_found", fields={"key": ["no such object"]}) from exc
    # Before the checks: Vigia's own objects are not all videos (a clip's detail file is not).
    if skip_own and OWN_OBJECT_METADATA in head.metadata:
        raise OwnObject(key)
    if head.size == 0:
        raise ApplicationError("the object is empty", code="invalid_video", fields={"key": ["empty object"]})
    if head.size > settings.CLIP_MAX_BYTES:
        raise ApplicationError(
            f"the object has {head.size} bytes; the limit is {settings.CLIP_MAX_BYTES}",
            code="file_too_large",
            fields={"key": ["too large"]},
        )
    if not looks_like_video(key=key, content_type=head.content_type):
        raise ApplicationError(
            f"not a video: content type {head.content_type or 'none'!r}, key {key!r}",
            code="invalid_video",
            fields={"key": ["not a video"]},
        )
    return head


def looks_like_video(*, key: str, content_type: str) -> bool:
    """A video content type, or a video extension on an untyped object (the probe decides after)."""
    ctype = content_type.split(";")[0].strip().lower()
    if ctype.startswith("video/"):
        return True
    return PurePosixPath(key).suffix.lower().lstrip(".") in VIDEO_EXTENSIONS and ctype in _UNTYPED


def _recorded_at(head: s3.ObjectHead) -> datetime | None:
    raw = head.metadata.get(RECORDED_AT_METADATA)
    if raw is None:
        return None
    try:
        value = parse_datetime(raw.strip())
    except ValueError:
        value = None
    if value is None:
        # A wrong time would misplace the clip in every analysis: refuse rather than guess.
        raise ApplicationError(
            f"x-amz-meta-{RECORDED_AT_METADATA} is not an ISO 8601 time: {raw!r}",
            code="bad_metadata",
            fields={"key": ["bad recorded-at metadata"]},
        )
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _download_and_probe(*, bucket: str, key: str, head: s3.ObjectHead):
    suffix = PurePosixPath(key).suffix or ".mp4"
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        sha = s3.object_download(bucket=bucket, key=key, out=tmp, etag=head.etag, max_bytes=settings.CLIP_MAX_BYTES)
        tmp.flush()
        try:
            info = probe(tmp.name, limits=video_limits())  # sizes, streams: before decoding
        except InvalidVideo as exc:
            raise ApplicationError(str(exc), code="invalid_video", fields={"key": [str(exc)]}) from exc
    if info.duration > settings.CLIP_MAX_SECONDS:
        raise ApplicationError(
            f"the video lasts {info.duration:.1f} s; the limit is {settings.CLIP_MAX_SECONDS:g} s",
            code="video_too_long",
            fields={"key": ["too long"]},
        )
    return sha, info

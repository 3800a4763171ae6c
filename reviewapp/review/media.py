"""A clip's media for the pages: the video that plays (the preview, else the original), the
original as evidence (a download), and the frames of the strip with their boxes.

Video is answered with HTTP Range (206 Partial Content, 416 for a range outside the file):
without it Chromium cannot seek and Safari does not play at all. On S3 the answer is a
presigned, expiring URL instead, and S3 answers the ranges. The permission is the clip's own:
`selectors.clip_get_visible` (a customer sees only their own cameras' clips)."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_safe

from inference.detector import Box
from inference.render import draw_boxes
from inference.video import InvalidVideo, read_frame
from reviewapp.core import storage
from reviewapp.core.errors import error_body
from reviewapp.core.roles import is_customer, is_reviewer, role_required
from reviewapp.review import detail, selectors
from reviewapp.review.models import Clip, Detection
from reviewapp.tuning import suppression

CHUNK = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(ValueError):
    pass


def can_see_clips(user) -> bool:
    return is_reviewer(user) or is_customer(user)


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The one byte range asked for, as (first, last) inclusive, clipped to the file; None for
    the whole file (no header, another unit, or several ranges: RFC 9110 lets a server ignore
    those, and browsers never ask for several). RangeNotSatisfiable for a malformed range or one
    that starts past the end."""
    header = header.strip()
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    match = _RANGE.match(header.replace(" ", ""))
    if match is None or match.groups() == ("", ""):
        raise RangeNotSatisfiable(header)
    first, last = match.groups()
    if first == "":  # the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(header)
        return max(size - suffix, 0), size - 1
    start, end = int(first), int(last) if last else size - 1
    if start >= size or end < start:
        raise RangeNotSatisfiable(header)
    return start, min(end, size - 1)


def _chunks(f, start: int, length: int) -> Iterator[bytes]:
    try:
        f.seek(start)
        while length > 0:
            data = f.read(min(CHUNK, length))
            if not data:
                break
            length -= len(data)
            yield data
    finally:
        f.close()


def file_response(request, name: str, *, download_name: str | None = None) -> HttpResponse:
    """The stored file `name`, whole (200) or the byte range asked for (206, 416).

    S3: a redirect to a presigned URL (S3 answers the ranges itself)."""
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    disposition = content_disposition_header(True, download_name) if download_name else None
    if settings.CLIP_BUCKET:
        params = {"ResponseContentDisposition": disposition} if disposition else None
        return HttpResponseRedirect(default_storage.url(name, parameters=params))  # presigned, expiring
    try:
        size = default_storage.size(name)
        f = default_storage.open(name, "rb")
    except FileNotFoundError:
        raise Http404("the clip's file is missing") from None
    try:
        byte_range = parse_range(request.headers.get("Range", ""), size)
    except RangeNotSatisfiable:
        f.close()
        body = error_body("range_not_satisfiable", f"the range asked for is not within the file's {size} bytes")
        response = JsonResponse(body, status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    start, end = byte_range if byte_range is not None else (0, size - 1)
    length = max(end - start + 1, 0)
    if request.method == "HEAD":
        f.close()
        response = HttpResponse(content_type=content_type, status=206 if byte_range else 200)
    else:
        response = StreamingHttpResponse(
            _chunks(f, start, length), content_type=content_type, status=206 if byte_range else 200
        )
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    if byte_range is not None:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    if disposition:
        response["Content-Disposition"] = disposition
    response["Cache-Control"] = "private, max-age=3600"
    return response


@role_required(can_see_clips)
@require_safe
def clip_play(request, clip_id):
    """What the pages' <video> plays: the browser copy when there is one, else the original."""
    clip = selectors.clip_get_visible(user=request.user, clip_id=clip_id)
    return file_response(request, clip.preview.name or clip.file.name)


@role_required(can_see_clips)
@require_safe
def clip_original(request, clip_id):
    """The original file, as received: the evidence, downloaded."""
    clip = selectors.clip_get_visible(user=request.user, clip_id=clip_id)
    ext = Path(clip.file.name).suffix
    return file_response(
        request, clip.file.name, download_name=f"{clip.camera.name}-{clip.recorded_at:%Y%m%d-%H%M%S}{ext}"
    )


# ----------------------------------------------------------------------- boxes on the frames


decided_detection = detail.decided_detection  # the views' name for it


def player_overlay(clip: Clip, detections: list[Detection]) -> dict | None:
    """The deciding box for the player's overlay (detail.deciding_box_fractions) with the time it
    stays on screen: one sampling interval around its frame."""
    box = detail.deciding_box_fractions(clip, detections)
    if box is None:
        return None
    return {**box, "span": max(1 / settings.SAMPLE_FPS, 0.5) if settings.SAMPLE_FPS else 0.5}


def _box(d: Detection) -> Box:
    return Box(d.x1, d.y1, d.x2, d.y2, d.score, d.label)


@role_required(can_see_clips)
@require_GET
def clip_frame(request, clip_id, frame_index):
    """One frame of the strip: the deciding box strong, the others from the review floor up, fainter."""
    clip = selectors.clip_get_visible(user=request.user, clip_id=clip_id)
    found = detail.clip_detail(clip)  # every box of the frame; once it is gone, the boxes kept
    detections = found.boxes if found is not None else list(clip.detections.defer("descriptor"))
    decided = decided_detection(detections)
    boxes = [_box(d) for d in detections if d.frame_index == frame_index and d is not decided]
    try:
        with storage.clip_local_file(clip) as path:
            image = read_frame(path, frame_index)
    except (InvalidVideo, FileNotFoundError):
        return HttpResponse(status=404)
    jpeg = draw_boxes(
        image,
        boxes,
        threshold=clip.camera.threshold,
        floor=suppression.rule_source_cutoff(clip.camera),
        decided=_box(decided) if decided is not None and decided.frame_index == frame_index else None,
        labels=is_reviewer(request.user),  # scores are for reviewers, not customers
    )
    response = HttpResponse(jpeg, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response

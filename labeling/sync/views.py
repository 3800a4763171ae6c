"""The Label Studio webhook, and the signed media URLs Label Studio fetches clips and frames from."""

import json
import logging

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from inference.video import InvalidVideo, read_frame
from labeling.sync import label_studio as ls
from labeling.sync import senders, state, webhook
from reviewapp.core import storage
from reviewapp.core.errors import ApplicationError, error_body
from reviewapp.core.roles import is_reviewer
from reviewapp.monitoring.views import metrics_allowed
from reviewapp.review.media import file_response
from reviewapp.review.models import Clip

log = logging.getLogger(__name__)


@csrf_exempt
@require_POST
def label_studio_webhook(request):
    secret = settings.LABEL_STUDIO_WEBHOOK_SECRET
    given = request.headers.get(ls.WEBHOOK_SECRET_HEADER, "")
    if not secret or not constant_time_compare(given, secret):
        return JsonResponse(error_body("forbidden", "missing or wrong webhook secret"), status=403)
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: nested too deeply
        return JsonResponse(error_body("invalid_payload", "the body is not JSON"), status=400)
    try:
        outcome = webhook.webhook_receive(payload)
    except ApplicationError as exc:
        return JsonResponse(error_body(exc.code, exc.message, exc.fields), status=exc.status_code)
    log.info("label studio webhook %s: %s", payload.get("action"), outcome)
    return JsonResponse({"status": outcome})


@require_GET
def media(request, token):
    """A clip's video or one frame, for whoever holds an unexpired signed URL (Label Studio)."""
    try:
        clip_id, frame, preview = senders.media_unsign(token)
    except signing.SignatureExpired:
        return JsonResponse(error_body("expired", "this media link has expired"), status=410)
    except signing.BadSignature:
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    clip = Clip.objects.filter(pk=clip_id).first()
    if clip is None:
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    if frame is None:  # with Range answers (Label Studio's player seeks), or presigned on S3
        try:
            return file_response(request, (clip.preview.name or clip.file.name) if preview else clip.file.name)
        except Http404:
            return JsonResponse(error_body("not_found", "Not found."), status=404)
    try:
        with storage.clip_local_file(clip) as path:
            image = read_frame(path, int(frame))
    except (InvalidVideo, FileNotFoundError):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    import cv2

    _ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    response = HttpResponse(jpeg.tobytes(), content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@require_GET
def sync_status(request):
    """Rows per destination and status: "failed" needs an operator (admin), "pending" shrinks by
    itself. For reviewers and operators, and for what may scrape /metrics (the bearer token, the
    allowed networks: a health check, a dashboard); 403 for anyone else."""
    if not (is_reviewer(request.user) or metrics_allowed(request)):
        return JsonResponse(error_body("forbidden", "log in as a reviewer, or send the metrics token"), status=403)
    return JsonResponse({"sync": state.sync_counts()})

"""Label Studio's webhook: annotations made there come back as reviews (once each), deletions
reopen the clip's review item.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from labeling.models import InboundAnnotation
from labeling.sync import label_studio as ls
from reviewapp.core.errors import ApplicationError
from reviewapp.review import queue
from reviewapp.review.models import (
    Review,
    ReviewItem,
    Tag,
)

log = logging.getLogger(__name__)


SERVICE_USERNAME = "label-studio"


def _service_user():
    user, created = get_user_model().objects.get_or_create(username=SERVICE_USERNAME, defaults={"is_active": False})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def _reviewer_for(annotator: Any):
    """The Vigia reviewer behind a Label Studio annotator (by email, then username), else the
    service user. `annotator` is a dict from the payload or an LS user id. Only active users of
    the reviewer role are matched: a name typed in Label Studio never becomes an operator
    (staff), a customer or the ingest service in Vigia's history."""
    User = get_user_model()
    reviewers = User.objects.filter(is_active=True, is_staff=False, is_superuser=False, profile__role="reviewer")
    if isinstance(annotator, dict):
        email, username = annotator.get("email") or "", annotator.get("username") or ""
        for lookup in (
            {"email__iexact": email} if email else None,
            {"username": username} if username else None,
            {"username": email.split("@")[0]} if email else None,
        ):
            if lookup:
                user = reviewers.filter(**lookup).order_by("id").first()
                if user is not None:
                    return user
    return _service_user()


def _annotator(annotation: dict, payload: dict) -> Any:
    completed_by = annotation.get("completed_by")
    if isinstance(completed_by, dict):
        return completed_by
    # The webhook payload carries only the user's id: ask Label Studio who that is.
    if isinstance(completed_by, int) and ls.enabled():
        try:
            return ls.user_get(completed_by)
        except ls.LabelStudioError as exc:
            log.warning("cannot look up Label Studio user %s: %s", completed_by, exc)
    return None


def _malformed(message: str, fields: dict | None = None) -> ApplicationError:
    return ApplicationError(message, code="invalid_payload", status_code=400, fields=fields)


def webhook_receive(payload: Any) -> str:
    """Take in one Label Studio webhook delivery. Returns what was done; raises ApplicationError
    (400) for a malformed payload. A duplicate delivery does nothing the second time."""
    if not isinstance(payload, dict) or not isinstance(payload.get("action"), str):
        raise _malformed("expected a JSON object with an action", {"action": ["required"]})
    action = payload["action"]
    if action in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED"):
        return _annotation_saved(action, payload)
    if action == "ANNOTATIONS_DELETED":
        return _annotations_deleted(payload)
    return "ignored"


def _annotation_saved(action: str, payload: dict) -> str:
    annotation, task = payload.get("annotation"), payload.get("task")
    if not isinstance(annotation, dict) or not isinstance(annotation.get("id"), int):
        raise _malformed("annotation.id is missing", {"annotation": ["an object with an integer id"]})
    if not isinstance(annotation.get("result", []), list):
        raise _malformed("annotation.result must be a list", {"annotation.result": ["a list"]})
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        raise _malformed("task.data is missing", {"task": ["an object with data"]})
    if action == "ANNOTATION_CREATED" and ls.is_ours(annotation.get("unique_id")):
        return "own"  # the echo of a decision made in Vigia
    item_id = task["data"].get("vigia_item")
    if not isinstance(item_id, int):
        raise _malformed("task.data.vigia_item is missing: not a Vigia task", {"task.data.vigia_item": ["required"]})
    item = ReviewItem.objects.filter(id=item_id).first()
    if item is None:
        raise _malformed(f"no review item {item_id}", {"task.data.vigia_item": ["unknown"]})
    if annotation.get("was_cancelled"):
        return "skipped"
    verdict, tags, note = ls.parse_result(annotation.get("result") or [])
    if verdict not in Review.Verdict.values:
        return "no_verdict"
    known = set(Tag.objects.filter(slug__in=tags, active=True).values_list("slug", flat=True))
    reviewer = _reviewer_for(_annotator(annotation, payload))
    changed = str(annotation.get("updated_at") or annotation.get("created_at") or "")
    try:
        with transaction.atomic():
            event = InboundAnnotation.objects.create(
                annotation_id=annotation["id"], annotation_updated_at=changed, action=action
            )
            review = queue.review_record(
                item=item,
                reviewer=reviewer,
                verdict=verdict,
                tags=[t for t in tags if t in known],
                note=note,
                source=Review.Source.LABEL_STUDIO,
            )
            InboundAnnotation.objects.filter(id=event.id).update(review=review)
    except IntegrityError:
        return "duplicate"
    return "recorded"


def _annotations_deleted(payload: dict) -> str:
    annotations = payload.get("annotations")
    if not isinstance(annotations, list) or not all(
        isinstance(a, dict) and isinstance(a.get("id"), int) for a in annotations
    ):
        raise _malformed("annotations must be a list of objects with an integer id", {"annotations": ["required"]})
    reopened = 0
    for a in annotations:
        try:
            with transaction.atomic():
                InboundAnnotation.objects.create(
                    annotation_id=a["id"], annotation_updated_at="", action="ANNOTATIONS_DELETED"
                )
        except IntegrityError:
            continue  # a duplicate delivery
        # The deleted annotation was the clip's verdict: the clip goes back to the queue.
        last = InboundAnnotation.objects.filter(annotation_id=a["id"], review__isnull=False).order_by("-id").first()
        if last is not None:
            current = Review.objects.newest_per_clip([last.review.clip_id]).get(last.review.clip_id)
            if current is not None and current.id == last.review_id:
                reopened += ReviewItem.objects.filter(id=current.item_id).update(
                    state=ReviewItem.State.OPEN, updated_at=timezone.now()
                )
    return f"deleted ({reopened} reopened)"

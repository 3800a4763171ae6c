"""Sending claimed rows: clips to DynamoDB (batched first writes, conditional later ones), review
items as Label Studio tasks, Vigia decisions as Label Studio annotations. Each reads the objects
fresh and settles every row it was given.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from labeling.models import SyncState
from labeling.sync import dynamo
from labeling.sync import label_studio as ls
from labeling.sync.discovery import clip_changed_at
from labeling.sync.state import D, S, mark_done, mark_failed
from reviewapp.review import detail
from reviewapp.review.models import (
    Clip,
    Review,
    ReviewItem,
    Tag,
)

LS_IMPORT_BATCH = 200


MEDIA_SALT = "labeling.media"


def _version_number(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)


def clip_items(clip_ids: list) -> dict[Any, tuple[dict[str, Any], datetime]]:
    """{clip id: (DynamoDB item, its change marker)} read fresh from the database."""
    clips = (
        Clip.objects.filter(pk__in=clip_ids)
        .select_related("camera", "camera__customer")
        .annotate(changed_at=clip_changed_at(), report_count=Count("reports", distinct=True))
    )
    latest = Review.objects.select_related("reviewer").prefetch_related("tags").newest_per_clip(clip_ids)
    out = {}
    for clip in clips:
        review = latest.get(clip.pk)
        out[clip.pk] = (
            {
                "clip_id": str(clip.pk),
                "camera": clip.camera.name,
                "customer": clip.camera.customer.name,
                "recorded_at": clip.recorded_at.isoformat(),
                "day": clip.recorded_at.astimezone(UTC).strftime("%Y-%m-%d"),
                "object_key": clip.file.name,
                "score": round(clip.score, 6) if clip.score is not None else None,
                "alert": bool(clip.alert),
                "model_version": clip.model_version,
                "processing_ms": round(clip.processing_ms, 1) if clip.processing_ms is not None else None,
                "verdict": review.verdict if review else None,
                "tags": sorted(t.slug for t in review.tags.all()) if review else [],
                "reviewer": review.reviewer.username if review else None,
                "reviewed_at": review.created_at.isoformat() if review else None,
                "report_count": clip.report_count,
                "version": _version_number(clip.changed_at),
                "updated_at": timezone.now().isoformat(),
            },
            clip.changed_at,
        )
    return out


def send_dynamodb(rows: list[SyncState], token: str, *, batched: bool = True) -> None:
    """First writes of a clip go in BatchWriteItem batches (no condition possible there; safe
    because the lease makes this worker the only writer of these clips). Later changes of a
    clip already written go one by one through the conditional PutItem, so an older state
    never overwrites a newer one whoever wrote it."""
    items = clip_items([r.clip_id for r in rows])
    gone = [r for r in rows if r.clip_id not in items]
    for r in gone:  # the clip was deleted: nothing to send
        mark_done(r, token, sent_version=r.version)
    rows = [r for r in rows if r.clip_id in items]
    first = [r for r in rows if r.sent_version is None] if batched else []
    later = [r for r in rows if r not in first]
    try:
        if first:
            left = set(dynamo.batch_put([items[r.clip_id][0] for r in first]))
            for r in first:
                if str(r.clip_id) not in left:
                    mark_done(r, token, sent_version=items[r.clip_id][1])
            if left:
                mark_failed(
                    [r for r in first if str(r.clip_id) in left],
                    token,
                    error="UnprocessedItems after retries (throttled)",
                    retryable=True,
                )
        for r in later:
            dynamo.put_if_newer(items[r.clip_id][0])  # False: a newer one is there, also done
            mark_done(r, token, sent_version=items[r.clip_id][1])
    except dynamo.DynamoError as exc:
        pending = list(SyncState.objects.filter(id__in=[r.id for r in rows], lease=token))
        mark_failed(pending, token, error=str(exc), retryable=exc.retryable)


def media_url(clip_id, *, frame: int | None = None, preview: bool = False) -> str:
    """A signed URL Label Studio can fetch without a session; it expires after
    LABELING_MEDIA_URL_SECONDS (checked by labeling.views.media). `preview`: the clip's browser
    copy (reviewapp.review.preview) when it has one, the original otherwise."""
    payload = {"c": str(clip_id), "f": frame, **({"p": 1} if preview else {})}
    token = signing.TimestampSigner(salt=MEDIA_SALT).sign_object(payload)
    return settings.VIGIA_PUBLIC_URL.rstrip("/") + reverse("labeling-media", args=[token])


def media_unsign(token: str) -> tuple[str, int | None, bool]:
    """(clip id, frame or None for the video, whether the browser copy is asked for)."""
    data = signing.TimestampSigner(salt=MEDIA_SALT).unsign_object(token, max_age=settings.LABELING_MEDIA_URL_SECONDS)
    return data["c"], data["f"], bool(data.get("p"))


def task_payload(item: ReviewItem, detections: list[detail.DetailBox]) -> dict[str, Any]:
    """A Label Studio task: the clip, its key frame (highest person score) and the detector's
    boxes on that frame as a prediction."""
    clip = item.clip
    key = max(detections, key=lambda d: d.score, default=None)
    frame_index = key.frame_index if key else 0
    regions = [
        {
            "id": f"d{d.id}",
            "from_name": "box",
            "to_name": "frame",
            "type": "rectanglelabels",
            "original_width": clip.width,
            "original_height": clip.height,
            "image_rotation": 0,
            "score": round(d.score, 4),
            "value": {
                "x": 100 * d.x1 / clip.width,
                "y": 100 * d.y1 / clip.height,
                "width": 100 * (d.x2 - d.x1) / clip.width,
                "height": 100 * (d.y2 - d.y1) / clip.height,
                "rotation": 0,
                "rectanglelabels": ["person"],
            },
        }
        for d in detections
        if d.frame_index == frame_index
    ]
    regions.append(
        {
            "from_name": "verdict",
            "to_name": "frame",
            "type": "choices",
            "value": {"choices": ["person" if clip.alert else "no_person"]},
        }
    )
    return {
        "data": {
            "vigia_item": item.id,
            "clip_id": str(clip.pk),
            "camera": clip.camera.name,
            "recorded_at": clip.recorded_at.isoformat(),
            "score": round(clip.score or 0.0, 4),
            "frame_index": frame_index,
            "video": media_url(clip.pk, preview=True),  # what browsers play: Label Studio is one
            "frame": media_url(clip.pk, frame=frame_index),
        },
        "predictions": [
            {"model_version": clip.model_version or "unknown", "score": round(clip.score or 0.0, 4), "result": regions}
        ],
    }


def send_ls_tasks(rows: list[SyncState], token: str, *, batch: int = LS_IMPORT_BATCH) -> None:
    try:
        project = ls.project_id()
        # A row tried before may have reached Label Studio with its worker dying before it
        # saved the id: look those up instead of importing them twice.
        retried = [r for r in rows if r.attempts > 1]
        if retried:
            found = ls.tasks_by_item(project=project, item_ids=[r.item_id for r in retried])
            for r in retried:
                if r.item_id in found:
                    mark_done(r, token, sent_version=r.version, remote_id=str(found[r.item_id]))
            rows = [r for r in rows if not (r.attempts > 1 and r.item_id in found)]
        items = {
            i.id: i
            for i in ReviewItem.objects.filter(id__in=[r.item_id for r in rows]).select_related("clip", "clip__camera")
        }
        boxes = {i.clip_id: detail.clip_boxes(i.clip) for i in items.values()}  # every box: the clip's detail
        for r in rows:
            if r.item_id not in items:
                mark_done(r, token, sent_version=r.version)
        rows = [r for r in rows if r.item_id in items]
        for start in range(0, len(rows), batch):
            chunk = rows[start : start + batch]
            ids = ls.tasks_import(
                project=project, tasks=[task_payload(items[r.item_id], boxes[items[r.item_id].clip_id]) for r in chunk]
            )
            with transaction.atomic():
                for r, task_id in zip(chunk, ids):
                    mark_done(r, token, sent_version=r.version, remote_id=str(task_id))
    except ls.LabelStudioError as exc:
        pending = list(SyncState.objects.filter(id__in=[r.id for r in rows], lease=token))
        if pending:
            mark_failed(pending, token, error=str(exc), retryable=exc.retryable)


def send_ls_annotations(rows: list[SyncState], token: str) -> None:
    reviews = {r.id: r for r in Review.objects.filter(id__in=[r.review_id for r in rows]).prefetch_related("tags")}
    tasks = dict(
        SyncState.objects.filter(
            destination=D.LS_TASK, status=S.DONE, item_id__in=[r.item_id for r in reviews.values()]
        ).values_list("item_id", "remote_id")
    )
    for i, row in enumerate(rows):
        review = reviews.get(row.review_id)
        if review is None or not tasks.get(review.item_id):
            mark_done(row, token, sent_version=row.version)
            continue
        result = ls.annotation_result(
            verdict=review.verdict, tags=sorted(t.slug for t in review.tags.all()), note=review.note
        )
        try:
            annotation_id = ls.annotation_create(task_id=int(tasks[review.item_id]), review_id=review.id, result=result)
        except ls.LabelStudioError as exc:
            mark_failed(
                list(SyncState.objects.filter(id__in=[r.id for r in rows[i:]], lease=token)),
                token,
                error=str(exc),
                retryable=exc.retryable,
            )
            return
        mark_done(row, token, sent_version=row.version, remote_id=str(annotation_id or ""))


def labelling_config() -> str:
    """Label Studio's labelling config for the tags reviewers can use now."""
    return ls.label_config(list(Tag.objects.filter(active=True).order_by("key", "slug").values_list("slug", "name")))

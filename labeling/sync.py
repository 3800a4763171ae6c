"""The sync of clips, review items and reviews to Label Studio and DynamoDB, and the webhook back.

Driven by what changed, never called from reviewapp: each beat tick
1. discovers: one anti-join per destination finds the objects without a SyncState row whose
   `version` is at least the object's last change, and upserts those rows as pending (for
   DynamoDB, whose objects are all clips, only over the clips changed since the newest row);
2. sends: claims due pending rows with a lease (a conditional UPDATE: concurrent workers get
   disjoint rows), reads the objects fresh, sends them in batches, and marks each row done /
   pending-with-backoff / failed. A worker killed mid-batch leaves its rows leased and pending:
   the lease runs out and the next tick sends them again (every send is idempotent).

A reviewer's decision only writes its Review row; nothing here runs in that request.
"""
from __future__ import annotations

import logging
import random
import time
from collections import defaultdict
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Any, Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.urls import reverse
from django.utils import timezone

from labeling import dynamo
from labeling import label_studio as ls
from labeling.models import InboundAnnotation, SyncCursor, SyncState
from reviewapp import services as review_services
from reviewapp.errors import ApplicationError
from reviewapp.models import Clip, Detection, FalseAlertReport, Review, ReviewItem, Tag

log = logging.getLogger(__name__)

D = SyncState.Destination
S = SyncState.Status
# Longer than the sync task's hard time limit: a lease still running means its worker is alive.
LEASE = timedelta(seconds=300)
BACKOFF_BASE = 5.0
BACKOFF_MAX = 300.0
LS_IMPORT_BATCH = 200
# Rows claimed per round. Annotations go one request each (~0.3 s on Label Studio's dev server):
# a smaller round keeps a run well inside the task's time limit.
CLAIM_LIMIT = {D.LS_ANNOTATION: 50}
SERVICE_USERNAME = "label-studio"
MEDIA_SALT = "labeling.media"


def destinations() -> list[str]:
    out = []
    if dynamo.enabled():
        out.append(D.DYNAMODB)
    if ls.enabled():
        out += [D.LS_TASK, D.LS_ANNOTATION]
    return out


# ------------------------------------------------------------------------------ discover


def clip_changed_at():
    """A clip's last change that DynamoDB must show: processed, reviewed, or reported."""
    last_review = Review.objects.filter(clip=OuterRef("pk")).order_by("-created_at").values("created_at")[:1]
    last_report = FalseAlertReport.objects.filter(clip=OuterRef("pk")).order_by("-created_at").values("created_at")[:1]
    return Greatest(
        F("finished_at"), Coalesce(Subquery(last_review), F("finished_at")), Coalesce(Subquery(last_report), F("finished_at"))
    )


def _held(destination: str, field: str, version: str):
    """The SyncState row of the outer object that already wants (or holds) its latest change."""
    return SyncState.objects.filter(destination=destination, **{field: OuterRef("pk")}, version__gte=OuterRef(version))


def recently_changed_clips(*, limit: int) -> list | None:
    """The clips that may have changed since the newest change DynamoDB already has a row for
    (less SYNC_DISCOVERY_MARGIN_SECONDS, for transactions that commit late): three indexed range
    reads, so a tick costs what changed, not how many clips exist. None means "look at every
    clip": the first tick (no row yet), or more changes than `limit` since then (a long stop)."""
    newest = SyncCursor.objects.filter(destination=D.DYNAMODB).values_list("discovered_until", flat=True).first()
    if newest is None:  # no cursor yet (a new deployment or an upgrade): from the rows there are, once
        newest = SyncState.objects.filter(destination=D.DYNAMODB).aggregate(v=Max("version"))["v"]
    if newest is None:
        return None
    since = newest - timedelta(seconds=settings.SYNC_DISCOVERY_MARGIN_SECONDS)
    sources = [
        Clip.objects.filter(finished_at__gte=since).order_by("finished_at").values_list("pk", flat=True),
        Review.objects.filter(created_at__gte=since).order_by("created_at").values_list("clip_id", flat=True),
        FalseAlertReport.objects.filter(created_at__gte=since).order_by("created_at").values_list("clip_id", flat=True),
    ]
    ids: set = set()
    for source in sources:
        found = list(source[: limit + 1])
        if len(found) > limit:
            return None
        ids.update(found)
    return list(ids)


def unsynced(destination: str, *, limit: int = 5000):
    """The anti-join: objects this destination has not got (or not asked for) in their latest
    version, oldest change first. Returns a queryset of the objects, annotated with `changed_at`."""
    if destination == D.DYNAMODB:
        qs = Clip.objects.filter(status=Clip.Status.DONE, finished_at__isnull=False)
        recent = recently_changed_clips(limit=limit)
        if recent is not None:
            qs = qs.filter(pk__in=recent)
        qs = qs.annotate(changed_at=clip_changed_at())
        # Oldest first: what a limited tick leaves behind is newer than what it took, so the
        # next tick's window (from the newest row) still covers it.
        return qs.filter(~Exists(_held(destination, "clip", "changed_at"))).order_by("changed_at")
    if destination == D.LS_TASK:
        qs = ReviewItem.objects.filter(clip__status=Clip.Status.DONE).annotate(changed_at=F("created_at"))
        return qs.filter(~Exists(_held(destination, "item", "changed_at")))
    if destination == D.LS_ANNOTATION:
        # A Vigia decision becomes an annotation once its item's task exists.
        task_done = SyncState.objects.filter(destination=D.LS_TASK, item=OuterRef("item_id"), status=S.DONE)
        qs = Review.objects.filter(source=Review.Source.VIGIA).filter(Exists(task_done)).annotate(changed_at=F("created_at"))
        return qs.filter(~Exists(_held(destination, "review", "changed_at")))
    raise ValueError(destination)


_FK = {D.DYNAMODB: "clip_id", D.LS_TASK: "item_id", D.LS_ANNOTATION: "review_id"}


def discover(destination: str, *, limit: int = 5000) -> int:
    """Upsert a pending row for every object the anti-join returns. Returns how many."""
    now = timezone.now()
    found = list(unsynced(destination, limit=limit).values_list("pk", "changed_at")[:limit])
    rows = [
        SyncState(
            destination=destination, object_key=str(pk), **{_FK[destination]: pk}, version=changed_at,
            status=S.PENDING, attempts=0, last_error="", next_attempt_at=now,
        )
        for pk, changed_at in found
    ]
    if rows:
        SyncState.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["destination", "object_key"],
            update_fields=["version", "status", "attempts", "last_error", "next_attempt_at"],
        )
        newest = max(changed_at for _, changed_at in found)
        cursor, created = SyncCursor.objects.get_or_create(destination=destination, defaults={"discovered_until": newest})
        if not created:  # only forward: a slower concurrent tick must not move it back
            SyncCursor.objects.filter(id=cursor.id, discovered_until__lt=newest).update(discovered_until=newest)
    return len(rows)


# -------------------------------------------------------------------------- claim / settle


def _free(now) -> Q:
    return Q(leased_until__isnull=True) | Q(leased_until__lt=now)


def claim(destination: str, *, limit: int) -> tuple[str, list[SyncState]]:
    now = timezone.now()
    due = SyncState.objects.filter(_free(now), destination=destination, status=S.PENDING, next_attempt_at__lte=now)
    ids = list(due.order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit])
    token = ls.new_uuid()
    if ids:
        due.filter(id__in=ids).update(lease=token, leased_until=now + LEASE, attempts=F("attempts") + 1)
    return token, list(SyncState.objects.filter(lease=token).order_by("id"))


def _done(row: SyncState, token: str, *, sent_version: datetime, remote_id: str | None = None) -> None:
    # Done only if nothing newer was asked for meanwhile; else it stays pending for the next tick.
    rows = SyncState.objects.filter(id=row.id, lease=token)
    common = dict(lease="", leased_until=None, last_error="", sent_version=sent_version, attempts=0)
    if remote_id is not None:
        common["remote_id"] = remote_id
    if not rows.filter(version__lte=sent_version).update(status=S.DONE, **common):
        rows.update(status=S.PENDING, next_attempt_at=timezone.now(), **common)


def backoff(attempts: int) -> float:
    return min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)


def _failed(rows: list[SyncState], token: str, *, error: str, retryable: bool) -> None:
    now = timezone.now()
    with transaction.atomic():
        for row in rows:
            attempts = row.attempts  # already counted by the claim
            give_up = not retryable or attempts >= settings.SYNC_MAX_ATTEMPTS
            SyncState.objects.filter(id=row.id, lease=token).update(
                status=S.FAILED if give_up else S.PENDING, last_error=error[:2000], lease="", leased_until=None,
                next_attempt_at=now + timedelta(seconds=backoff(attempts)),
            )
    log.warning("%d %s row(s) %s: %s", len(rows), rows[0].destination if rows else "", "failed" if not retryable else "to retry", error)


def _release(rows: list[SyncState], token: str) -> None:
    SyncState.objects.filter(id__in=[r.id for r in rows], lease=token).update(lease="", leased_until=None)


# ------------------------------------------------------------------------------ DynamoDB


def _version_number(when: datetime) -> int:
    return int(when.timestamp() * 1_000_000)


def clip_items(clip_ids: list) -> dict[Any, tuple[dict[str, Any], datetime]]:
    """{clip id: (DynamoDB item, its change marker)} read fresh from the database."""
    clips = (
        Clip.objects.filter(pk__in=clip_ids).select_related("camera", "camera__customer")
        .annotate(changed_at=clip_changed_at(), report_count=Count("reports", distinct=True))
    )
    latest: dict[Any, Review] = {}
    for review in (
        Review.objects.filter(clip_id__in=clip_ids).select_related("reviewer").prefetch_related("tags")
        .order_by("clip_id", "-created_at", "-id")
    ):
        latest.setdefault(review.clip_id, review)
    out = {}
    for clip in clips:
        review = latest.get(clip.pk)
        out[clip.pk] = (
            {
                "clip_id": str(clip.pk),
                "camera": clip.camera.name,
                "customer": clip.camera.customer.name,
                "recorded_at": clip.recorded_at.isoformat(),
                "day": clip.recorded_at.astimezone(dt_timezone.utc).strftime("%Y-%m-%d"),
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
        _done(r, token, sent_version=r.version)
    rows = [r for r in rows if r.clip_id in items]
    first = [r for r in rows if r.sent_version is None] if batched else []
    later = [r for r in rows if r not in first]
    try:
        if first:
            left = set(dynamo.batch_put([items[r.clip_id][0] for r in first]))
            for r in first:
                if str(r.clip_id) not in left:
                    _done(r, token, sent_version=items[r.clip_id][1])
            if left:
                _failed([r for r in first if str(r.clip_id) in left], token,
                        error="UnprocessedItems after retries (throttled)", retryable=True)
        for r in later:
            dynamo.put_if_newer(items[r.clip_id][0])  # False: a newer one is there, also done
            _done(r, token, sent_version=items[r.clip_id][1])
    except dynamo.DynamoError as exc:
        pending = list(SyncState.objects.filter(id__in=[r.id for r in rows], lease=token))
        _failed(pending, token, error=str(exc), retryable=exc.retryable)


# --------------------------------------------------------------------------- Label Studio


def media_url(clip_id, *, frame: int | None = None) -> str:
    """A signed URL Label Studio can fetch without a session; it expires after
    LABELING_MEDIA_URL_SECONDS (checked by labeling.views.media)."""
    token = signing.TimestampSigner(salt=MEDIA_SALT).sign_object({"c": str(clip_id), "f": frame})
    return settings.VIGIA_PUBLIC_URL.rstrip("/") + reverse("labeling-media", args=[token])


def media_unsign(token: str) -> tuple[str, int | None]:
    data = signing.TimestampSigner(salt=MEDIA_SALT).unsign_object(token, max_age=settings.LABELING_MEDIA_URL_SECONDS)
    return data["c"], data["f"]


def task_payload(item: ReviewItem, detections: list[Detection]) -> dict[str, Any]:
    """A Label Studio task: the clip, its key frame (highest person score) and the detector's
    boxes on that frame as a prediction."""
    clip = item.clip
    key = max(detections, key=lambda d: d.score, default=None)
    frame_index = key.frame_index if key else 0
    regions = [
        {
            "id": f"d{d.id}", "from_name": "box", "to_name": "frame", "type": "rectanglelabels",
            "original_width": clip.width, "original_height": clip.height, "image_rotation": 0, "score": round(d.score, 4),
            "value": {
                "x": 100 * d.x1 / clip.width, "y": 100 * d.y1 / clip.height,
                "width": 100 * (d.x2 - d.x1) / clip.width, "height": 100 * (d.y2 - d.y1) / clip.height,
                "rotation": 0, "rectanglelabels": ["person"],
            },
        }
        for d in detections if d.frame_index == frame_index
    ]
    regions.append({
        "from_name": "verdict", "to_name": "frame", "type": "choices",
        "value": {"choices": ["person" if clip.alert else "no_person"]},
    })
    return {
        "data": {
            "vigia_item": item.id, "clip_id": str(clip.pk), "camera": clip.camera.name,
            "recorded_at": clip.recorded_at.isoformat(), "score": round(clip.score or 0.0, 4), "frame_index": frame_index,
            "video": media_url(clip.pk), "frame": media_url(clip.pk, frame=frame_index),
        },
        "predictions": [{"model_version": clip.model_version or "unknown", "score": round(clip.score or 0.0, 4), "result": regions}],
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
                    _done(r, token, sent_version=r.version, remote_id=str(found[r.item_id]))
            rows = [r for r in rows if not (r.attempts > 1 and r.item_id in found)]
        items = {i.id: i for i in ReviewItem.objects.filter(id__in=[r.item_id for r in rows]).select_related("clip", "clip__camera")}
        boxes = defaultdict(list)
        for d in Detection.objects.filter(clip_id__in=[i.clip_id for i in items.values()]):
            boxes[d.clip_id].append(d)
        for r in rows:
            if r.item_id not in items:
                _done(r, token, sent_version=r.version)
        rows = [r for r in rows if r.item_id in items]
        for start in range(0, len(rows), batch):
            chunk = rows[start:start + batch]
            ids = ls.tasks_import(project=project, tasks=[task_payload(items[r.item_id], boxes[items[r.item_id].clip_id]) for r in chunk])
            with transaction.atomic():
                for r, task_id in zip(chunk, ids):
                    _done(r, token, sent_version=r.version, remote_id=str(task_id))
    except ls.LabelStudioError as exc:
        pending = list(SyncState.objects.filter(id__in=[r.id for r in rows], lease=token))
        if pending:
            _failed(pending, token, error=str(exc), retryable=exc.retryable)


def send_ls_annotations(rows: list[SyncState], token: str) -> None:
    reviews = {r.id: r for r in Review.objects.filter(id__in=[r.review_id for r in rows]).prefetch_related("tags")}
    tasks = dict(
        SyncState.objects.filter(destination=D.LS_TASK, status=S.DONE, item_id__in=[r.item_id for r in reviews.values()])
        .values_list("item_id", "remote_id")
    )
    for i, row in enumerate(rows):
        review = reviews.get(row.review_id)
        if review is None or not tasks.get(review.item_id):
            _done(row, token, sent_version=row.version)
            continue
        result = ls.annotation_result(verdict=review.verdict, tags=sorted(t.slug for t in review.tags.all()), note=review.note)
        try:
            annotation_id = ls.annotation_create(task_id=int(tasks[review.item_id]), review_id=review.id, result=result)
        except ls.LabelStudioError as exc:
            _failed(list(SyncState.objects.filter(id__in=[r.id for r in rows[i:]], lease=token)), token,
                    error=str(exc), retryable=exc.retryable)
            return
        _done(row, token, sent_version=row.version, remote_id=str(annotation_id or ""))


SENDERS: dict[str, Callable[[list[SyncState], str], None]] = {
    D.DYNAMODB: send_dynamodb, D.LS_TASK: send_ls_tasks, D.LS_ANNOTATION: send_ls_annotations,
}


def sync_destination(destination: str, *, limit: int | None = None) -> int:
    """Discover and send one batch for one destination. Returns how many rows were sent."""
    discover(destination)
    token, rows = claim(destination, limit=limit or min(settings.SYNC_BATCH, CLAIM_LIMIT.get(destination, 10**9)))
    if rows:
        SENDERS[destination](rows, token)
    return len(rows)


def labelling_config() -> str:
    """Label Studio's labelling config for the tags reviewers can use now."""
    return ls.label_config(list(Tag.objects.filter(active=True).order_by("key", "slug").values_list("slug", "name")))


def sync_all(*, budget_seconds: float = 60.0) -> dict[str, int]:
    """What a beat tick runs: every enabled destination, batch after batch, until nothing is due
    or the time budget is spent. Tasks go before annotations: an annotation needs its task.
    The Label Studio project first gets the current tags (a request only when they changed)."""
    sent = {}
    if D.LS_TASK in destinations():
        try:
            if ls.config_ensure(project=ls.project_id(), config=labelling_config()):
                log.info("Label Studio labelling config updated to the current tags")
        except ls.LabelStudioError as exc:  # the labels still flow; only new tags are missing there
            log.warning("Label Studio labelling config not updated: %s", exc)
    deadline = time.monotonic() + budget_seconds
    for destination in destinations():
        sent[destination] = 0
        while time.monotonic() < deadline:
            n = sync_destination(destination)
            sent[destination] += n
            if n == 0:
                break
    return sent


def sync_counts() -> dict[str, dict[str, int]]:
    """{destination: {status: rows}}: the count anyone (admin, metrics, a health check) can ask."""
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for row in SyncState.objects.values("destination", "status").annotate(n=Count("id")):
        out[row["destination"]][row["status"]] = row["n"]
    return dict(out)


def sync_retry_failed(*, ids: list[int] | None = None) -> int:
    """An operator's "try again" for failed rows (after fixing the cause)."""
    qs = SyncState.objects.filter(status=S.FAILED)
    if ids is not None:
        qs = qs.filter(id__in=ids)
    return qs.update(status=S.PENDING, attempts=0, next_attempt_at=timezone.now())


# ------------------------------------------------------------------------------- webhook


def _service_user():
    user, created = get_user_model().objects.get_or_create(username=SERVICE_USERNAME, defaults={"is_active": False})
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def _reviewer_for(annotator: Any):
    """The Vigia user behind a Label Studio annotator (by email, then username), else the
    service user. `annotator` is a dict from the payload or an LS user id."""
    User = get_user_model()
    if isinstance(annotator, dict):
        email, username = annotator.get("email") or "", annotator.get("username") or ""
        for lookup in ({"email__iexact": email} if email else None, {"username": username} if username else None,
                       {"username": email.split("@")[0]} if email else None):
            if lookup:
                user = User.objects.filter(**lookup, is_active=True).order_by("id").first()
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
            event = InboundAnnotation.objects.create(annotation_id=annotation["id"], annotation_updated_at=changed, action=action)
            review = review_services.review_record(
                item=item, reviewer=reviewer, verdict=verdict, tags=[t for t in tags if t in known], note=note,
                source=Review.Source.LABEL_STUDIO,
            )
            InboundAnnotation.objects.filter(id=event.id).update(review=review)
    except IntegrityError:
        return "duplicate"
    return "recorded"


def _annotations_deleted(payload: dict) -> str:
    annotations = payload.get("annotations")
    if not isinstance(annotations, list) or not all(isinstance(a, dict) and isinstance(a.get("id"), int) for a in annotations):
        raise _malformed("annotations must be a list of objects with an integer id", {"annotations": ["required"]})
    reopened = 0
    for a in annotations:
        try:
            with transaction.atomic():
                InboundAnnotation.objects.create(annotation_id=a["id"], annotation_updated_at="", action="ANNOTATIONS_DELETED")
        except IntegrityError:
            continue  # a duplicate delivery
        # The deleted annotation was the clip's verdict: the clip goes back to the queue.
        last = InboundAnnotation.objects.filter(annotation_id=a["id"], review__isnull=False).order_by("-id").first()
        if last is not None:
            current = Review.objects.filter(clip_id=last.review.clip_id).order_by("-created_at", "-id").first()
            if current is not None and current.id == last.review_id:
                reopened += ReviewItem.objects.filter(id=current.item_id).update(
                    state=ReviewItem.State.OPEN, updated_at=timezone.now()
                )
    return f"deleted ({reopened} reopened)"

"""Writes: ingest, the processing pipeline, the review queue and customer reports.

Plain functions with keyword-only arguments; API views, pages, tasks and commands call these.
"""
from __future__ import annotations

import hashlib
import logging
import os
import random
import shutil
import tempfile
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from inference.decision import decide
from inference.detector import load_detector
from inference.pipeline import detect_clip
from inference.suppression import match_frames, to_bytes
from inference.video import InvalidVideo, probe
from reviewapp.errors import ApplicationError
from reviewapp.models import Camera, Clip, Detection, FalseAlertReport, ReviewItem, Review, Tag
from reviewapp import sns
from reviewapp import suppression
from reviewapp import logs, metrics

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------- ingest


def clip_storage_name(*, camera: Camera, clip_id, recorded_at: datetime, ext: str) -> str:
    return f"clips/{camera.name}/{recorded_at:%Y/%m/%d}/{clip_id}.{ext}"


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
    raises ApplicationError and nothing is stored.
    """
    if external_id:
        existing = Clip.objects.filter(external_id=external_id).first()
        if existing is not None:
            if existing.camera_id != camera.id:
                raise ApplicationError(
                    f"external_id {external_id!r} is already used by another camera's clip",
                    code="conflict", status_code=409,
                )
            return existing, False

    size = os.path.getsize(path)
    if size == 0:
        raise ApplicationError("the file is empty", code="invalid_video", fields={"file": ["empty file"]})
    if size > settings.CLIP_MAX_BYTES:
        raise ApplicationError(
            f"the file has {size} bytes; the limit is {settings.CLIP_MAX_BYTES}",
            code="file_too_large", fields={"file": ["too large"]},
        )
    sha = _sha256(path)
    existing = Clip.objects.filter(camera=camera, sha256=sha).first()
    if existing is not None:
        return existing, False
    try:
        info = probe(path, max_duration=settings.CLIP_MAX_SECONDS)
    except InvalidVideo as exc:
        raise ApplicationError(str(exc), code="invalid_video", fields={"file": [str(exc)]}) from exc

    clip = Clip(
        camera=camera, recorded_at=recorded_at, external_id=external_id or None, sha256=sha,
        size_bytes=size, duration=info.duration, fps=info.fps, width=info.width, height=info.height,
    )
    name = clip_storage_name(camera=camera, clip_id=clip.id, recorded_at=recorded_at, ext=info.container)
    # Upload before the row exists, outside any transaction: it can take long on S3.
    with open(path, "rb") as f:
        clip.file.name = default_storage.save(name, File(f))
    try:
        with transaction.atomic():
            clip.save(force_insert=True)
            transaction.on_commit(lambda: _enqueue_processing(clip.id))
    except IntegrityError:
        # Another upload of the same clip won the race: keep theirs, drop our copy.
        default_storage.delete(clip.file.name)
        existing = Clip.objects.filter(Q(camera=camera, sha256=sha) | Q(external_id=external_id or None)).first()
        if existing is None:
            raise
        return existing, False
    except BaseException:
        default_storage.delete(clip.file.name)  # nothing stored half-way
        raise
    with logs.log_context(clip_id=clip.id, camera=camera.name):
        log.info("clip %s ingested for camera %s (%d bytes, %.1f s)", clip.id, camera.name, size, info.duration)
    metrics.clip_received(camera)
    return clip, True


def _enqueue_processing(clip_id) -> None:
    from reviewapp.tasks import process_clip

    process_clip.delay(str(clip_id))


# -------------------------------------------------------------------------------- pipeline


class TransientError(Exception):
    """A failure worth retrying (storage or network hiccup)."""


@contextmanager
def clip_local_file(clip: Clip):
    """A local path to the clip's file: the file itself on a local disk, a temporary copy otherwise."""
    try:
        local = default_storage.path(clip.file.name)
    except NotImplementedError:  # S3 and other remote storages
        local = None
    if local is not None:
        yield local
        return
    suffix = Path(clip.file.name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        try:
            with default_storage.open(clip.file.name, "rb") as src:
                shutil.copyfileobj(src, tmp, 1 << 20)
        except FileNotFoundError:
            raise  # the clip is gone: retrying will not bring it back
        except Exception as exc:  # network or storage service trouble
            raise TransientError(f"cannot read {clip.file.name}: {exc}") from exc
        tmp.flush()
        yield tmp.name


def clip_process(*, clip_id) -> Clip | None:
    """Detect people in a clip, decide, store the result, queue it for review and alert.

    Safe to run twice (a redelivered task): a clip already done or failed is left alone, and a
    clip found half-processed is processed again from scratch.
    """
    with logs.log_context(clip_id=clip_id):  # every line logged on the way names the clip
        return _clip_process(clip_id=clip_id)


def _clip_process(*, clip_id) -> Clip | None:
    claimed = Clip.objects.filter(id=clip_id, status__in=[Clip.Status.QUEUED, Clip.Status.PROCESSING]).update(
        status=Clip.Status.PROCESSING, started_at=timezone.now(), attempts=F("attempts") + 1, error=""
    )
    if not claimed:
        return None
    # The customer too: the metrics' camera group reads it.
    clip = Clip.objects.select_related("camera__customer").get(id=clip_id)
    camera = clip.camera
    logs.bind(camera=camera.name)  # undone when clip_process's context ends
    detector = load_detector(settings.DETECTOR)
    verification = None
    if settings.VERIFIER:  # imported here: verification imports this module, and loads torch
        from reviewapp.verification import clip_verification_start

        verification = clip_verification_start(camera=camera)

    with clip_local_file(clip) as path:
        result = detect_clip(
            path, detector, sample_fps=settings.SAMPLE_FPS, batch_size=settings.DETECT_BATCH,
            min_change=settings.MIN_CHANGE, max_still_s=settings.MAX_STILL_SECONDS,
            # Boxes below the review band can neither alert nor be reviewed: no descriptor needed.
            describe_min_score=suppression.rule_source_cutoff(camera),
            on_frame=verification.on_frame if verification else None,
        )
    # Rules are read after detection, just before deciding: a review recorded while this clip
    # was being detected already applies to it.
    matched = match_frames(
        suppression.rules_for_camera(camera=camera), [(f.boxes, f.descriptors, f.size) for f in result.frames]
    )
    suppressed_by = [[r.id if r is not None else None for r in row] for row in matched]
    detections = [
        Detection(clip=clip, frame_index=f.index, frame_time=f.time, x1=b.x1, y1=b.y1, x2=b.x2, y2=b.y2,
                  score=b.score, label=b.label, suppressed_by_id=rule_ids[j],
                  descriptor=to_bytes(f.descriptors[j]) if j < len(f.descriptors) and f.descriptors[j] is not None else None)
        for f, rule_ids in zip(result.frames, suppressed_by)
        for j, b in enumerate(f.boxes)
    ]

    decision = decide(
        result.boxes_per_frame, threshold=camera.threshold, review_band=camera.review_band, suppressed_by=suppressed_by
    )
    if verification is not None:  # sees only the boxes no rule suppressed
        decision = verification.verify(decision, suppressed=lambda pos, j: suppressed_by[pos][j] is not None)
    audit = not decision.near_threshold and (
        random.random() < settings.AUDIT_SAMPLE_RATE
        or (  # a rule changed the outcome: sometimes a human checks that it was right
            decision.suppressed_score >= camera.threshold - camera.review_band
            and random.random() < settings.SUPPRESSION_AUDIT_RATE
        )
    )
    with transaction.atomic():
        Detection.objects.filter(clip=clip).delete()
        hit_rules = {d.suppressed_by_id for d in detections if d.suppressed_by_id is not None}
        if hit_rules:
            kept = suppression.suppression_hits_record(rule_ids=sorted(hit_rules), now=timezone.now())
            for d in detections:
                if d.suppressed_by_id is not None and d.suppressed_by_id not in kept:
                    d.suppressed_by_id = None  # the rule was deleted meanwhile
        Detection.objects.bulk_create(detections)
        clip.suppressed_score = decision.suppressed_score
        clip.status = Clip.Status.DONE
        clip.score = decision.score
        clip.alert = decision.alert
        clip.model_version = detector.version
        if verification is not None:
            verification.record(clip)
        clip.frames_sampled = result.sampled
        clip.frames_detected = len(result.frames)
        clip.decode_ms = result.decode_s * 1000
        clip.detect_ms = result.detect_s * 1000
        clip.saturation, clip.brightness = result.saturation, result.brightness
        clip.detections_count = len(detections)
        clip.finished_at = timezone.now()
        clip.save()
        if camera.width is None:
            Camera.objects.filter(id=camera.id, width=None).update(width=clip.width, height=clip.height)
        if decision.near_threshold:
            review_item_enqueue(clip=clip, reason=ReviewItem.Reason.NEAR_THRESHOLD)
        elif audit:
            review_item_enqueue(clip=clip, reason=ReviewItem.Reason.AUDIT_SAMPLE)
    log.info(
        "clip %s done: score %.3f alert %s, %d frames sampled, %d detected, decode %.0f ms, detect %.0f ms",
        clip.id, decision.score, decision.alert, clip.frames_sampled, clip.frames_detected, clip.decode_ms,
        clip.detect_ms,
    )
    metrics.clip_processed(clip)
    if decision.alert:
        alert_publish(clip=clip)
    return clip


def clip_fail(*, clip_id, error: str) -> None:
    # A clip already failed keeps its first error (and is not counted twice).
    failed = Clip.objects.filter(id=clip_id).exclude(status__in=[Clip.Status.DONE, Clip.Status.FAILED]).update(
        status=Clip.Status.FAILED, error=error[:2000], finished_at=timezone.now()
    )
    log.warning("clip %s failed: %s", clip_id, error)
    camera = Camera.objects.select_related("customer").filter(clips__id=clip_id).first() if failed else None
    if camera is not None:
        metrics.clip_failed(camera)


def alert_publish(*, clip: Clip) -> bool:
    """Send the clip's alert once. The conditional update makes a second call (a retried task,
    a second worker) a no-op; a failed publish gives the mark back so a retry can send it."""
    now = timezone.now()
    if not Clip.objects.filter(id=clip.id, alert=True, alert_sent_at=None).update(alert_sent_at=now):
        return False
    message = {
        "clip_id": str(clip.id), "camera": clip.camera.name, "customer": clip.camera.customer.name,
        "recorded_at": clip.recorded_at.isoformat(), "score": clip.score, "model_version": clip.model_version,
    }
    try:
        sns.publish_alert(message=message, group_id=clip.camera.name)
    except sns.SNSError as exc:
        Clip.objects.filter(id=clip.id, alert_sent_at=now).update(alert_sent_at=None)
        metrics.alert_error(retryable=exc.retryable)
        if exc.retryable:
            raise TransientError(str(exc)) from exc
        log.error("alert for clip %s not sent: %s", clip.id, exc)
        return False
    metrics.alert_sent(clip.camera)
    return True


def clips_requeue_stuck(*, older_than: timedelta) -> int:
    """Send again the clips whose task was lost (queued or processing for too long)."""
    cutoff = timezone.now() - older_than
    stuck = list(
        Clip.objects.filter(
            Q(status=Clip.Status.QUEUED, created_at__lt=cutoff)
            | Q(status=Clip.Status.PROCESSING, started_at__lt=cutoff)
        ).values_list("id", flat=True)[:1000]
    )
    for clip_id in stuck:
        _enqueue_processing(clip_id)
    return len(stuck)


# ---------------------------------------------------------------------------- review queue


def review_item_enqueue(*, clip: Clip, reason: str) -> ReviewItem:
    """Put a clip in the review queue, or move it up if it is there for a weaker reason.

    A customer report reopens a clip that was already decided: the customer disagrees."""
    priority = ReviewItem.PRIORITY[reason]
    distance = abs((clip.score or 0.0) - clip.camera.threshold)
    item, created = ReviewItem.objects.get_or_create(
        clip=clip, defaults={"reason": reason, "priority": priority, "distance": distance}
    )
    if not created:
        changes = {}
        if priority < item.priority:
            changes.update(reason=reason, priority=priority)
        if reason == ReviewItem.Reason.CUSTOMER_REPORT and item.state == ReviewItem.State.DONE:
            changes.update(state=ReviewItem.State.OPEN)
        if changes:
            ReviewItem.objects.filter(id=item.id).update(**changes, updated_at=timezone.now())
            item.refresh_from_db()
    return item


def _claimable(now) -> Q:
    return Q(state=ReviewItem.State.OPEN) & (Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))


def review_next(*, reviewer) -> ReviewItem | None:
    """Claim and return the next item for this reviewer, or None when the queue is empty.

    Customer reports first, then the clips closest to their camera's threshold. The claim is a
    conditional UPDATE: when two reviewers race for the same row, the database lets one update
    it and the other matches zero rows and moves on to the next candidate.
    """
    now = timezone.now()
    until = now + timedelta(seconds=settings.REVIEW_CLAIM_SECONDS)
    mine = ReviewItem.objects.filter(state=ReviewItem.State.OPEN, claimed_by=reviewer, claimed_until__gte=now)
    current = mine.order_by("priority", "distance").first()
    if current is not None:
        ReviewItem.objects.filter(id=current.id).update(claimed_until=until)
        current.claimed_until = until
        return current
    for _attempt in range(5):
        candidates = list(
            ReviewItem.objects.filter(_claimable(now))
            .exclude(skipped_by=reviewer)
            .order_by("priority", "distance", "created_at")
            .values_list("id", flat=True)[:20]
        )
        if not candidates:
            return None
        for item_id in candidates:
            won = ReviewItem.objects.filter(_claimable(now), id=item_id).update(
                claimed_by=reviewer, claimed_until=until, updated_at=now
            )
            if won:
                return ReviewItem.objects.select_related("clip", "clip__camera").get(id=item_id)
    return None


def review_skip(*, item: ReviewItem, reviewer) -> None:
    """Give the item back to the queue; this reviewer is not offered it again."""
    item.skipped_by.add(reviewer)
    ReviewItem.objects.filter(id=item.id, claimed_by=reviewer).update(claimed_by=None, claimed_until=None)


def review_record(
    *, item: ReviewItem, reviewer, verdict: str, tags: list[str], note: str = "", source: str = Review.Source.VIGIA,
    suppress_similar: bool = False,
) -> Review:
    """Record a decision. The history keeps every decision; the newest is the clip's verdict.

    An item that another reviewer holds (an unexpired claim) cannot be decided by someone else in
    Vigia; a decision arriving from Label Studio is recorded whatever the claim says.

    `suppress_similar` (a "no person" only) also makes suppression rules for the camera from the
    clip's false detections, in the same transaction. A "person" decision flags the rules that
    had suppressed detections in this clip.
    """
    if verdict not in Review.Verdict.values:
        raise ApplicationError(f"unknown verdict {verdict!r}", fields={"verdict": ["must be person or no_person"]})
    if suppress_similar and verdict != Review.Verdict.NO_PERSON:
        raise ApplicationError(
            "only a 'no person' decision can suppress similar detections",
            fields={"suppress_similar": ["needs the verdict no_person"]},
        )
    tag_objs = list(Tag.objects.filter(slug__in=tags, active=True))
    unknown = sorted(set(tags) - {t.slug for t in tag_objs})
    if unknown:
        raise ApplicationError(f"unknown tag(s): {', '.join(unknown)}", fields={"tags": [f"unknown: {', '.join(unknown)}"]})
    now = timezone.now()
    with transaction.atomic():
        locked = ReviewItem.objects.select_for_update().get(id=item.id)
        held_by_other = locked.claimed_by_id not in (None, reviewer.id) and locked.claimed_until and locked.claimed_until >= now
        if held_by_other and source == Review.Source.VIGIA:
            raise ApplicationError("another reviewer is deciding this item", code="claimed", status_code=409)
        review = Review.objects.create(
            item=locked, clip_id=locked.clip_id, verdict=verdict, reviewer=reviewer, note=note, source=source
        )
        review.tags.set(tag_objs)
        if suppress_similar:
            suppression.suppression_rules_from_review(review=review, user=reviewer)
        suppression.suppression_rules_flag_for_review(review=review)
        ReviewItem.objects.filter(id=locked.id).update(
            state=ReviewItem.State.DONE, claimed_by=None, claimed_until=None, updated_at=now
        )
        transaction.on_commit(lambda: metrics.decision_recorded(verdict=verdict, source=source))
    return review


# -------------------------------------------------------------------------------- customers


def false_alert_report(*, clip: Clip, user, reason: str = "") -> tuple[FalseAlertReport, bool]:
    """Record a customer's "this is a false alert" and put the clip on top of the review queue."""
    if not clip.alert:
        raise ApplicationError("this clip did not alert", code="not_an_alert")
    with transaction.atomic():
        report, created = FalseAlertReport.objects.get_or_create(
            clip=clip, reported_by=user, defaults={"reason": reason}
        )
        if created:
            review_item_enqueue(clip=clip, reason=ReviewItem.Reason.CUSTOMER_REPORT)
            transaction.on_commit(lambda: metrics.false_alert_reported(clip.camera))
    return report, created

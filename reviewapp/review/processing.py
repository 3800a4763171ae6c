"""The worker's part: detect people in a clip, decide, store the result, queue it for review, alert."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from inference.decision import ClipDecision, Veto
from inference.detector import load_detector
from inference.pipeline import ClipResult, FrameResult, detect_clip
from inference.second_look import Look, SecondLook, decide_twice, second_look_from_spec
from reviewapp.core import logs, metrics
from reviewapp.core.storage import clip_local_file
from reviewapp.review import alerts, detail, preview, rollups
from reviewapp.review.ingest import clip_enqueue
from reviewapp.review.models import Camera, Clip, Detection, ReviewItem
from reviewapp.review.queue import review_item_enqueue
from reviewapp.tuning import suppression

log = logging.getLogger(__name__)


def clip_process(*, clip_id) -> Clip | None:
    """Detect people in a clip, decide, store the result, queue it for review and owe its alert
    (in the same commit; reviewapp.review.alerts sends it).

    Safe to run twice (a redelivered task): a clip already done or failed is left alone, and a
    clip found half-processed is processed again from scratch.
    """
    with logs.log_context(clip_id=clip_id):  # every line logged on the way names the clip
        return _clip_process(clip_id=clip_id)


def _clip_process(*, clip_id) -> Clip | None:
    clip = _clip_claim(clip_id=clip_id)
    if clip is None:
        return None
    camera = clip.camera
    logs.bind(camera=camera.name)  # undone when clip_process's context ends
    detector = load_detector(settings.DETECTOR)
    second = clip_second_look()
    verification = second_verification = None
    if settings.VERIFIER:  # imported here: verification imports this module, and loads torch
        from reviewapp.tuning.verification import clip_verification_start

        verification = clip_verification_start(camera=camera)
        # The second pass's boxes are other boxes: its veto asks about crops of its own.
        second_verification = clip_verification_start(camera=camera) if second is not None else None
    with clip_local_file(clip) as path:
        result = detect_clip(
            path,
            detector,
            sample_fps=settings.SAMPLE_FPS,
            batch_size=settings.DETECT_BATCH,
            min_change=settings.MIN_CHANGE,
            max_still_s=settings.MAX_STILL_SECONDS,
            # Boxes below the rule floor can neither alert nor be reviewed: no descriptor needed.
            describe_min_score=suppression.rule_source_cutoff(camera),
            on_frame=verification.on_frame if verification else None,
        )
        # Decided while the file is at hand: the second look decodes its deciding frames again.
        decision, look = clip_decide(
            camera=camera,
            frames=result.frames,
            verifier=verification,
            now=timezone.now(),
            second=second,
            path=path,
            second_verifier=second_verification,
        )
    # The detail and the kept boxes are those of the pass that decided (their rule ids, their
    # deciding box): after a second look, its frames.
    frames = look.frames if look is not None else result.frames
    if look is not None and second_verification is not None:
        verification = second_verification
    # Every box of every frame goes to the detail file beside the clip, written before the result
    # commits; the database keeps a handful of them (reviewapp/review/detail.py).
    clip.detail = detail.detail_write(clip=clip, frames=frames, suppressed_by=decision.suppressed_by)
    detections = detail.summary_detections(clip=clip, frames=frames, decision=decision)
    if verification is not None:
        verification.record(clip)
    # The result, its review item, its alert and its rollup counts: one commit.
    with rollups.clip_change(clip.id):
        _clip_record(clip=clip, result=result, decision=decision, detections=detections, detector=detector, look=look)
        _clip_route(clip=clip, decision=decision)
        if decision.alert:
            alerts.alert_record(clip=clip)  # sent once this commits (reviewapp.review.alerts)
    preview.clip_preview_enqueue(clip_id=clip.id)  # a task of its own: nothing here waits for it or fails by it
    _log_done(clip=clip, decision=decision, look=look)
    metrics.clip_processed(clip)
    return clip


def _log_done(*, clip: Clip, decision: ClipDecision, look: Look | None) -> None:
    log.info(
        "clip %s done: score %.3f alert %s, %d frames sampled, %d detected, decode %.0f ms, detect %.0f ms%s",
        clip.id,
        decision.score,
        decision.alert,
        clip.frames_sampled,
        clip.frames_detected,
        clip.decode_ms,
        clip.detect_ms,
        f", second look {clip.first_score:.3f} -> {decision.score:.3f} in {clip.second_look_ms:.0f} ms"
        if look is not None
        else "",
    )


def _clip_claim(*, clip_id) -> Clip | None:
    """The clip, marked as being processed; None when it is not this task's to process.

    A clip found `processing` was abandoned by a task that died (a killed pool process, out of
    memory, the hard time limit): taken again, unless that happened CLIP_MAX_ATTEMPTS times
    already — a clip that keeps killing its worker is failed instead of killing it forever."""
    limit = settings.CLIP_MAX_ATTEMPTS
    claimed = Clip.objects.filter(
        Q(status=Clip.Status.QUEUED) | Q(status=Clip.Status.PROCESSING, attempts__lt=limit), id=clip_id
    ).update(status=Clip.Status.PROCESSING, started_at=timezone.now(), attempts=F("attempts") + 1, error="")
    if not claimed:
        if Clip.objects.filter(id=clip_id, status=Clip.Status.PROCESSING).exists():
            clip_fail(clip_id=clip_id, error=f"abandoned {limit} times: its worker died while processing it")
        return None
    # The customer too: the metrics' camera group reads it.
    return Clip.objects.select_related("camera__customer").get(id=clip_id)


def clip_release(*, clip_id) -> None:
    """Back to `queued` when a try ended on an error that can pass (its task is retried): only
    a try that died leaves the clip `processing`, and only those count towards the limit."""
    Clip.objects.filter(id=clip_id, status=Clip.Status.PROCESSING).update(status=Clip.Status.QUEUED)


def clip_second_look() -> SecondLook | None:
    """The worker's second look (SECOND_LOOK; None when off). Its detector is built once per
    process (load_detector), at the worker's start (reviewapp.review.tasks.load_model)."""
    if not settings.SECOND_LOOK:
        return None
    return second_look_from_spec(settings.SECOND_LOOK, settings.SECOND_LOOK_FRAMES, load_detector)


def clip_decide(
    *,
    camera: Camera,
    frames: Sequence[FrameResult],
    verifier: Veto | None = None,
    now: datetime,
    second: SecondLook | None = None,
    path=None,
    second_verifier: Veto | None = None,
) -> tuple[ClipDecision, Look | None]:
    """The worker's decision: `decide_clip` with the camera's rules, threshold and review band,
    and with `second` the second look at a clip in the band (`decide_twice`, read from `path`).

    Rules are read here, after detection, just before deciding: a review recorded while the clip
    was being detected already applies to it."""
    return decide_twice(
        path,
        frames,
        second=second,
        describe_min_score=suppression.rule_source_cutoff(camera),
        second_verifier=second_verifier,
        on_second_frame=second_verifier.on_frame if second_verifier is not None else None,
        rules=suppression.rules_for_camera(camera=camera, now=now),
        threshold=camera.threshold,
        review_band=camera.review_band,
        now=now,
        verifier=verifier,
    )


def _clip_record(
    *, clip: Clip, result: ClipResult, decision: ClipDecision, detections, detector, look: Look | None
) -> None:
    """Store the summary detections (and count the rules' hits) and the clip's result, in the caller's transaction."""
    Detection.objects.filter(clip=clip).delete()
    hit_rules = {r for rules in decision.suppressed_by for r in rules if r is not None}
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
    clip.second_look = look.detector if look is not None else ""
    clip.first_score = look.first.score if look is not None else None
    clip.first_alert = look.first.alert if look is not None else None
    clip.second_look_ms = look.seconds * 1000 if look is not None else None
    clip.frames_sampled = result.sampled
    clip.frames_detected = len(result.frames)
    clip.decode_ms = result.decode_s * 1000
    clip.detect_ms = result.detect_s * 1000
    clip.saturation, clip.brightness = result.saturation, result.brightness
    clip.detections_count = sum(len(f.boxes) for f in result.frames)
    clip.detail_expired_at = None
    clip.finished_at = timezone.now()
    clip.save()
    camera = clip.camera
    if camera.width is None:
        Camera.objects.filter(id=camera.id, width=None).update(width=clip.width, height=clip.height)


def _clip_route(*, clip: Clip, decision: ClipDecision) -> None:
    """To the review queue when near the threshold (or vetoed), or now and then as an audit sample."""
    camera = clip.camera
    audit = not decision.near_threshold and (
        random.random() < settings.AUDIT_SAMPLE_RATE
        or (  # a rule changed the outcome: sometimes a human checks that it was right
            decision.suppressed_score >= camera.threshold - camera.review_band
            and random.random() < settings.SUPPRESSION_AUDIT_RATE
        )
    )
    if decision.near_threshold:
        review_item_enqueue(clip=clip, reason=ReviewItem.Reason.NEAR_THRESHOLD)
    elif audit:
        review_item_enqueue(clip=clip, reason=ReviewItem.Reason.AUDIT_SAMPLE)


def clip_fail(*, clip_id, error: str) -> None:
    # A clip already failed keeps its first error (and is not counted twice).
    failed = (
        Clip.objects.filter(id=clip_id)
        .exclude(status__in=[Clip.Status.DONE, Clip.Status.FAILED])
        .update(status=Clip.Status.FAILED, error=error[:2000], finished_at=timezone.now())
    )
    log.warning("clip %s failed: %s", clip_id, error)
    camera = Camera.objects.select_related("customer").filter(clips__id=clip_id).first() if failed else None
    if camera is not None:
        metrics.clip_failed(camera)


def clips_requeue_stuck(*, older_than: timedelta, queued_older_than: timedelta | None = None) -> int:
    """Send again the clips whose task was lost: never sent (the broker was down), queued with
    no message for `queued_older_than` (the broker lost it), or processing for `older_than` (its
    worker died). A clip is sent again at most once per that age (`sent_at`), so clips waiting
    behind a backlog do not multiply their messages at every sweep."""
    now = timezone.now()
    cutoff = now - older_than
    queued_cutoff = now - (older_than if queued_older_than is None else queued_older_than)
    stuck = list(
        Clip.objects.filter(
            Q(status=Clip.Status.QUEUED, sent_at__isnull=True)
            | Q(status=Clip.Status.QUEUED, created_at__lt=queued_cutoff, sent_at__lt=queued_cutoff)
            | (
                Q(status=Clip.Status.PROCESSING, started_at__lt=cutoff)
                & (Q(sent_at__isnull=True) | Q(sent_at__lt=cutoff))
            )
        ).values_list("id", flat=True)[:1000]
    )
    for clip_id in stuck:
        clip_enqueue(clip_id)
        Clip.objects.filter(id=clip_id).update(sent_at=timezone.now())
    return len(stuck)

"""Suppression rules: made from reviews, read by the pipeline, kept honest by later reviews.

Reads (`rules_for_camera`) and writes (`suppression_rules_from_review`, `suppression_rule_update`,
...) for `SuppressionRule`. The matching itself is `inference.suppression` (no Django).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from inference import suppression as matching
from reviewapp.core.errors import ApplicationError
from reviewapp.review import detail
from reviewapp.review.models import Camera, Clip, Detection, Review
from reviewapp.tuning.models import SuppressionRule

log = logging.getLogger(__name__)

# Tags of things that stay where they are: a "no person" with one of these ticks "suppress
# similar" by default on the review page (the seeded slugs of migration 0002).
STATIC_TAGS = ("car", "cone", "other")


# ------------------------------------------------------------------------------------- reads


def rules_for_camera(*, camera: Camera, now: datetime | None = None) -> list[matching.Rule]:
    """The rules the pipeline applies to this camera's next clip: active, not expired, made with
    the current descriptor, and (unless SUPPRESSION_PAUSE_FLAGGED is off) not flagged.

    Read fresh for every clip, so a rule applies from the next clip processed after the review."""
    now = now or timezone.now()
    qs = SuppressionRule.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        camera=camera,
        active=True,
        descriptor_version=matching.DESCRIPTOR_VERSION,
    )
    if settings.SUPPRESSION_PAUSE_FLAGGED:
        qs = qs.filter(flagged=False)
    return [_as_rule(r) for r in qs.order_by("id")]


def rules_for_camera_at(*, camera: Camera, when: datetime) -> list[matching.Rule]:
    """The rules the pipeline applied to a clip of this camera processed at `when`, as well as
    they can be told afterwards (for re-deciding a past clip, without look-ahead): made before
    `when` with the current descriptor, not expired then, not flagged before it (when flagged
    rules pause), and not switched off unless edited after it (when it was switched off is not
    recorded: an edit after the clip may be the switch-off)."""
    qs = SuppressionRule.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=when),
        Q(active=True) | Q(updated_at__gt=when),
        camera=camera,
        created_at__lt=when,
        descriptor_version=matching.DESCRIPTOR_VERSION,
    )
    if settings.SUPPRESSION_PAUSE_FLAGGED:
        qs = qs.exclude(flagged=True, flagged_at__lt=when)
    return [_as_rule(r) for r in qs.order_by("id")]


def _as_rule(r: SuppressionRule) -> matching.Rule:
    return matching.Rule(
        id=r.id,
        box=r.box,
        descriptor=matching.from_bytes(r.descriptor),
        iou_min=r.iou_min,
        similarity_min=r.similarity_min,
        expires_at=r.expires_at,
    )


def rules_visible_to(user):
    """Rules are reviewer/operator business; anyone else sees none (views also check the role)."""
    from reviewapp.core.roles import is_reviewer

    qs = SuppressionRule.objects.select_related("camera", "camera__customer", "created_by", "source_review")
    return qs if is_reviewer(user) else qs.none()


def rule_source_cutoff(camera: Camera) -> float:
    """The score from which a false detection of this camera is worth a rule (and a descriptor):
    `inference.suppression.rule_floor` of its threshold, review band and SUPPRESSION_JITTER."""
    return matching.rule_floor(camera.threshold, camera.review_band, settings.SUPPRESSION_JITTER)


def suppressible_detections(clip: Clip) -> list[detail.DetailBox]:
    """The clip's boxes a "suppress similar" can make rules from, best first (from its detail)."""
    cutoff = rule_source_cutoff(clip.camera)
    boxes = [
        b for b in detail.clip_boxes(clip) if b.label == "person" and b.descriptor is not None and b.score >= cutoff
    ]
    return sorted(boxes, key=lambda b: -b.score)


def rule_groups(clip: Clip) -> list[matching.Group]:
    """The places "suppress similar" would make rules of for this clip: every static thing whose
    detections reach `rule_source_cutoff` (one group per place, best first, at most
    SUPPRESSION_MAX_RULES_PER_REVIEW). The review page previews them; the review makes them."""
    size = (clip.width, clip.height)
    return matching.rules_from_false_detections(
        (
            (matching.normalise_box((d.x1, d.y1, d.x2, d.y2), size), matching.from_bytes(d.descriptor), d.score)
            for d in suppressible_detections(clip)
        ),
        floor=rule_source_cutoff(clip.camera),
        max_rules=settings.SUPPRESSION_MAX_RULES_PER_REVIEW,
    )


def rule_preview(clip: Clip) -> list[dict]:
    """What the review page shows before the decision: each rule "suppress similar" would make,
    as its box in the clip's pixels, best score, detections covered, whether it made the clip
    alert, and whether it is a small place (described with its surroundings)."""
    if not clip.width or not clip.height:
        return []
    out = []
    for n, g in enumerate(rule_groups(clip), start=1):
        x1, y1, x2, y2 = g.box
        out.append(
            {
                "n": n,
                "box": (
                    round(x1 * clip.width),
                    round(y1 * clip.height),
                    round(x2 * clip.width),
                    round(y2 * clip.height),
                ),
                "best_score": g.best_score,
                "count": g.count,
                "alerts": g.best_score >= clip.camera.threshold,
                "small": matching.is_small(g.box),
            }
        )
    return out


# ------------------------------------------------------------------------------------ writes


def suppression_rules_from_review(*, review: Review, user) -> list[SuppressionRule]:
    """Turn a "no person" decision's false detections into rules for the clip's camera.

    Run inside the review's transaction: when it raises, the review is not stored either. The
    rules are `inference.suppression.rules_from_false_detections` of the clip's detections at or
    above `rule_source_cutoff`: one rule per place (a parked car seen in 100 frames is one rule),
    at most SUPPRESSION_MAX_RULES_PER_REVIEW.
    """
    if review.verdict != Review.Verdict.NO_PERSON:
        raise ApplicationError(
            "only a 'no person' decision can suppress similar detections",
            fields={"suppress_similar": ["needs the verdict no_person"]},
        )
    clip = review.clip
    cutoff = rule_source_cutoff(clip.camera)
    if not suppressible_detections(clip):
        raise ApplicationError(
            f"this clip has no detection scoring {cutoff:.2f} or more to suppress",
            code="nothing_to_suppress",
            fields={"suppress_similar": ["no detection to make a rule from"]},
        )
    groups = rule_groups(clip)
    if not groups:
        raise ApplicationError(
            "no usable detection to make a rule from",
            code="nothing_to_suppress",
            fields={"suppress_similar": ["no detection to make a rule from"]},
        )
    days = settings.SUPPRESSION_RULE_DAYS
    expires_at = timezone.now() + timedelta(days=days) if days else None
    rules = [_rule_create(group=g, review=review, user=user, expires_at=expires_at) for g in groups]
    log.info("review %s made suppression rule(s) %s for camera %s", review.id, [r.id for r in rules], clip.camera.name)
    return rules


def _rule_create(*, group: matching.Group, review: Review, user, expires_at: datetime | None) -> SuppressionRule:
    x1, y1, x2, y2 = group.box
    return SuppressionRule.objects.create(
        camera=review.clip.camera,
        x1=x1,
        y1=y1,
        x2=x2,
        y2=y2,
        descriptor=matching.to_bytes(group.descriptor),
        descriptor_version=matching.DESCRIPTOR_VERSION,
        iou_min=settings.SUPPRESSION_IOU_MIN,
        similarity_min=matching.similarity_for(group.box, settings.SUPPRESSION_SIMILARITY_MIN),
        source_review=review,
        source_clip=review.clip,
        source_score=group.best_score,
        source_detections=group.count,
        created_by=user,
        expires_at=expires_at,
    )


def suppression_rules_flag_for_review(*, review: Review) -> int:
    """A clip confirmed as a person condemns the rules that suppressed detections in it, and the
    rules made from it (its earlier "no person" was wrong). Returns how many were flagged."""
    if review.verdict != Review.Verdict.PERSON:
        return 0
    # The detail has every suppressed box; the rows kept in the database have the best of each rule.
    suppressing = {b.suppressed_by_id for b in detail.clip_boxes(review.clip) if b.suppressed_by_id is not None}
    suppressing |= set(
        Detection.objects.filter(clip_id=review.clip_id, suppressed_by__isnull=False).values_list(
            "suppressed_by", flat=True
        )
    )
    reason = f"clip {review.clip_id} confirmed as a person by {review.reviewer} (review {review.id})"
    flagged = SuppressionRule.objects.filter(
        Q(id__in=suppressing) | Q(source_clip_id=review.clip_id), flagged=False
    ).update(flagged=True, flagged_at=timezone.now(), flag_reason=reason, updated_at=timezone.now())
    if flagged:
        log.warning("%d suppression rule(s) flagged: %s", flagged, reason)
    return flagged


def suppression_rules_undo_review(*, review: Review) -> None:
    """Before an undone decision is deleted: the rules made from it go, the flags it put are lifted."""
    SuppressionRule.objects.filter(source_review=review).delete()
    SuppressionRule.objects.filter(flagged=True, flag_reason__endswith=f"(review {review.id})").update(
        flagged=False, flagged_at=None, flag_reason="", updated_at=timezone.now()
    )


def suppression_hits_record(*, rule_ids: Sequence[int], now: datetime) -> set[int]:
    """Count one hit per rule that suppressed something in a clip; returns the ids that still
    exist (a rule deleted while the clip was processed is dropped from its detections)."""
    existing = set(SuppressionRule.objects.filter(id__in=set(rule_ids)).values_list("id", flat=True))
    if existing:
        SuppressionRule.objects.filter(id__in=existing).update(hits=F("hits") + 1, last_hit_at=now)
    return existing


def suppression_rule_update(
    *,
    rule: SuppressionRule,
    user,
    active: bool | None = None,
    expires_at: datetime | str | None = "keep",
    iou_min: float | None = None,
    similarity_min: float | None = None,
    note: str | None = None,
    clear_flag: bool = False,
) -> SuppressionRule:
    """Edit a rule from the rules page. Tolerances must be within 0..1; clearing the flag says
    a person checked that the rule is right after all."""
    for name, value in (("iou_min", iou_min), ("similarity_min", similarity_min)):
        if value is not None and not 0 <= value <= 1:
            raise ApplicationError(f"{name} must be between 0 and 1", fields={name: ["between 0 and 1"]})
    if active is not None:
        rule.active = active
    if expires_at != "keep":
        rule.expires_at = expires_at
    if iou_min is not None:
        rule.iou_min = iou_min
    if similarity_min is not None:
        rule.similarity_min = similarity_min
    if note is not None:
        rule.note = note[:2000]
    if clear_flag and rule.flagged:
        rule.flagged = False
        rule.flag_reason = f"{rule.flag_reason} — cleared by {user} at {timezone.now():%Y-%m-%d %H:%M}"
    rule.save()
    log.info("suppression rule %s edited by %s", rule.id, user)
    return rule

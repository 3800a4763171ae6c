"""Many clips, one decision: a camera's open items showing the same thing at the same place.

A recurring false positive (a parked car, a coat on a hook) makes dozens of near-identical
items. The group of an item is the camera's other open items with a detection that one of the
rules its "suppress similar" would make matches, by the rules' own matching (place: IoU of the
normalised boxes; appearance: cosine of the descriptors; `inference.suppression.Rule.matches`).
Deciding the group records "no person" on every member and makes the rules once, from the lead.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from inference import suppression as matching
from reviewapp.core.errors import ApplicationError
from reviewapp.review import detail, queue
from reviewapp.review.models import Review, ReviewItem
from reviewapp.tuning import suppression

GROUP_MAX = 50
SCAN_MAX = 200  # open items of the camera looked at, nearest to the threshold first


def _rules_of(item: ReviewItem) -> list[matching.Rule]:
    return [
        matching.Rule(
            id=n,
            box=g.box,
            descriptor=g.descriptor,
            iou_min=settings.SUPPRESSION_IOU_MIN,
            similarity_min=matching.similarity_for(g.box, settings.SUPPRESSION_SIMILARITY_MIN),
        )
        for n, g in enumerate(suppression.rule_groups(item.clip))
    ]


def _matching_clip_ids(rules: list[matching.Rule], candidates: list[ReviewItem], cutoff: float) -> dict:
    """The candidates' clips with a suppressible detection a rule matches, each with the frame of
    its best matching detection (its key frame). The boxes come from each clip's detail file
    (reviewapp/review/detail.py): one read per candidate, cached per process."""
    found: dict = {}
    for c in candidates:
        if not (c.clip.width and c.clip.height):
            continue
        boxes = [
            b
            for b in detail.clip_boxes(c.clip)
            if b.label == "person" and b.descriptor is not None and b.score >= cutoff
        ]
        for d in sorted(boxes, key=lambda b: -b.score):
            norm = matching.normalise_box((d.x1, d.y1, d.x2, d.y2), (c.clip.width, c.clip.height))
            if any(rule.matches(norm, matching.from_bytes(d.descriptor)) for rule in rules):
                found[c.clip_id] = d.frame_index
                break
    return found


def review_group(*, item: ReviewItem, reviewer) -> list[ReviewItem]:
    """The item's group (without the item): open, not held by another reviewer, same camera."""
    rules = _rules_of(item)
    if not rules:
        return []
    now = timezone.now()
    candidates = [
        other
        for other in ReviewItem.objects.filter(state=ReviewItem.State.OPEN, clip__camera_id=item.clip.camera_id)
        .exclude(id=item.id)
        .select_related("clip")
        .order_by("priority", "distance", "created_at")[:SCAN_MAX]
        if other.claimed_by_id in (None, reviewer.id) or not other.claimed_until or other.claimed_until < now
    ]
    found = _matching_clip_ids(rules, candidates, suppression.rule_source_cutoff(item.clip.camera))
    group = [c for c in candidates if c.clip_id in found][:GROUP_MAX]
    for member in group:
        member.key_frame = found[member.clip_id]  # the grid of key frames on the queue page
    return group


def review_group_decide(*, item: ReviewItem, reviewer, member_ids: list[int], tags: list[str], note: str = ""):
    """ "No person" on the item and on those of `member_ids` still in its group, in one
    transaction; the rules are made once, from the item (its "suppress similar"). Returns the
    lead's review and the ids decided with it."""
    members = {m.id: m for m in review_group(item=item, reviewer=reviewer)}
    chosen = [members[i] for i in member_ids if i in members]
    if len(chosen) != len(set(member_ids)):
        raise ApplicationError(
            "the group changed: some items were decided or taken meanwhile", code="group_changed", status_code=409
        )
    with transaction.atomic():
        lead = queue.review_record(
            item=item, reviewer=reviewer, verdict=Review.Verdict.NO_PERSON, tags=tags, note=note, suppress_similar=True
        )
        for member in chosen:
            queue.review_record(
                item=member,
                reviewer=reviewer,
                verdict=Review.Verdict.NO_PERSON,
                tags=tags,
                note=note or f"decided with the group of item {item.id}",
            )
    return lead, [m.id for m in chosen]

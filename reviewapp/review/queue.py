"""The review queue: what needs a human, who is looking at it, and their decisions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from reviewapp.core import metrics
from reviewapp.core.errors import ApplicationError
from reviewapp.review import rollups
from reviewapp.review.models import Clip, Review, ReviewItem, Tag
from reviewapp.tuning import suppression


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


def review_next(*, reviewer, exclude: Sequence[int] = ()) -> ReviewItem | None:
    """Claim and return the next item for this reviewer, or None when the queue is empty.

    `exclude`: items the reviewer's page already holds (on screen, a decision in flight): the
    page asks for the one after them, a prefetch. That is an ordinary claim with the ordinary
    expiry, so a prefetched item the reviewer never reaches goes back to the queue by itself.

    Customer reports first, then the clips closest to their camera's threshold. The claim is a
    conditional UPDATE: when two reviewers race for the same row, the database lets one update
    it and the other matches zero rows and moves on to the next candidate.
    """
    now = timezone.now()
    until = now + timedelta(seconds=settings.REVIEW_CLAIM_SECONDS)
    mine = ReviewItem.objects.filter(state=ReviewItem.State.OPEN, claimed_by=reviewer, claimed_until__gte=now).exclude(
        id__in=exclude
    )
    current = mine.order_by("priority", "distance").first()
    if current is not None:
        ReviewItem.objects.filter(id=current.id).update(claimed_until=until)
        current.claimed_until = until
        return current
    for _attempt in range(5):
        candidates = list(
            ReviewItem.objects.filter(_claimable(now))
            .exclude(skipped_by=reviewer)
            .exclude(id__in=exclude)
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
    *,
    item: ReviewItem,
    reviewer,
    verdict: str,
    tags: list[str],
    note: str = "",
    source: str = Review.Source.VIGIA,
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
        raise ApplicationError(
            _("unknown verdict %(verdict)r") % {"verdict": verdict}, fields={"verdict": ["must be person or no_person"]}
        )
    if suppress_similar and verdict != Review.Verdict.NO_PERSON:
        raise ApplicationError(
            _("only a 'no person' decision can suppress similar detections"),
            fields={"suppress_similar": ["needs the verdict no_person"]},
        )
    tag_objs = list(Tag.objects.filter(slug__in=tags, active=True))
    unknown = sorted(set(tags) - {t.slug for t in tag_objs})
    if unknown:
        raise ApplicationError(
            _("unknown tag(s): %(tags)s") % {"tags": ", ".join(unknown)},
            fields={"tags": [f"unknown: {', '.join(unknown)}"]},
        )
    now = timezone.now()
    # The clip's row first (the rollups' lock, reviewapp/review/rollups.py), then the item's.
    with rollups.clip_change(item.clip_id):
        locked = ReviewItem.objects.select_for_update().get(id=item.id)
        held_by_other = (
            locked.claimed_by_id not in (None, reviewer.id) and locked.claimed_until and locked.claimed_until >= now
        )
        if held_by_other and source == Review.Source.VIGIA:
            raise ApplicationError(_("another reviewer is deciding this item"), code="claimed", status_code=409)
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


def review_undo(*, item: ReviewItem, reviewer) -> ReviewItem:
    """Take back this reviewer's last decision on the item, within REVIEW_UNDO_SECONDS.

    A real undo: the Review row is deleted with what it made (the suppression rules made from
    it, the flags a "person" put on rules), and the item is open again and claimed by the
    reviewer, as it was a moment before. Later than the window, or someone else's decision, or
    a decision that is no longer the item's newest: refused (the history is kept)."""
    now = timezone.now()
    since = now - timedelta(seconds=settings.REVIEW_UNDO_SECONDS)
    with rollups.clip_change(item.clip_id):
        locked = ReviewItem.objects.select_for_update().get(id=item.id)
        newest = locked.reviews.order_by("-created_at", "-id").first()
        if newest is None or newest.reviewer_id != reviewer.id or newest.source != Review.Source.VIGIA:
            raise ApplicationError("there is no decision of yours to undo on this item", code="not_undoable")
        if newest.created_at < since:
            raise ApplicationError(
                f"a decision can be undone within {settings.REVIEW_UNDO_SECONDS} seconds", code="undo_expired"
            )
        suppression.suppression_rules_undo_review(review=newest)
        newest.delete()
        until = now + timedelta(seconds=settings.REVIEW_CLAIM_SECONDS)
        ReviewItem.objects.filter(id=locked.id).update(
            state=ReviewItem.State.OPEN, claimed_by=reviewer, claimed_until=until, updated_at=now
        )
    locked.refresh_from_db()
    return locked

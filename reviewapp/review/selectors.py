"""Reads. Every query that returns clips to a user goes through `clips_visible_to`, so a
customer can never see another customer's clips, and the ingest role none."""

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404

from reviewapp.core.roles import customer_of, role_of
from reviewapp.review.models import Clip, Review


def clips_visible_to(user) -> QuerySet[Clip]:
    role = role_of(user)
    qs = Clip.objects.select_related("camera", "camera__customer")
    if role in ("reviewer", "operator"):
        return qs
    # The ingest role uploads for every tenant's cameras, so it reads none of their clips: the
    # upload's answer (id, status) is all it gets.
    customer = customer_of(user)
    if customer is not None:
        return qs.filter(camera__customer=customer)
    return qs.none()


def clip_get_visible(*, user, clip_id) -> Clip:
    try:
        return clips_visible_to(user).get(id=clip_id)
    except (Clip.DoesNotExist, ValidationError):
        # ValidationError: not a UUID. Same answer as "not yours": nothing to learn from it.
        raise Http404("clip not found") from None


def alerts_for_customer(*, user) -> QuerySet[Clip]:
    return clips_visible_to(user).filter(alert=True).order_by("-recorded_at")


def latest_review(clip: Clip) -> Review | None:
    """The clip's verdict (see reviewapp.review.models.newest_review), None when not reviewed."""
    return Review.objects.select_related("reviewer").prefetch_related("tags").newest_per_clip([clip.pk]).get(clip.pk)

"""Reads. Every query that returns clips to a user goes through `clips_visible_to`, so a
customer can never see another customer's clips."""

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404

from reviewapp.core.roles import customer_of, role_of
from reviewapp.review.models import Clip, Review


def clips_visible_to(user) -> QuerySet[Clip]:
    role = role_of(user)
    qs = Clip.objects.select_related("camera", "camera__customer")
    if role in ("reviewer", "ingest", "operator"):
        # The ingest role: the API gives it only IngestClipSerializer's fields (the list) and no
        # clip's detail (reviewapp.review.api.ClipDetailView).
        return qs
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
    # The id breaks ties of recorded_at, so that offset pages never share nor skip a clip; the
    # clip_alerts index holds all three columns: a page is found over it alone (DeferredJoin).
    return clips_visible_to(user).filter(alert=True).order_by("-recorded_at", "-id")


def latest_review(clip: Clip) -> Review | None:
    """The clip's verdict (see reviewapp.review.models.newest_review), None when not reviewed."""
    return Review.objects.select_related("reviewer").prefetch_related("tags").newest_per_clip([clip.pk]).get(clip.pk)


def clips_list(*, user, external_id: str | None = None, camera: str | None = None, status: str | None = None):
    """The clips `user` may see, filtered (the API's list; its pagination orders them)."""
    qs = clips_visible_to(user)
    if external_id is not None:
        qs = qs.filter(external_id=external_id)
    if camera is not None:
        qs = qs.filter(camera__name=camera)
    if status is not None:
        qs = qs.filter(status=status)
    return qs

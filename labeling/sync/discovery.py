"""What the sync must send: one anti-join per destination finds the objects without a SyncState
row whose `version` is at least the object's last change, only over the objects changed since
the destination's cursor (its newest change found, less a margin), and upserts those rows as
pending. Without a cursor (the first tick) or after a long stop, it looks at every object once.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, F, Max, OuterRef, Subquery
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from labeling.models import SyncCursor, SyncState
from labeling.sync.state import D, S
from reviewapp.review.models import (
    Clip,
    FalseAlertReport,
    Review,
    ReviewItem,
    newest_review,
)


def clip_changed_at():
    """A clip's last change that DynamoDB must show: processed, reviewed, or reported."""
    last_report = FalseAlertReport.objects.filter(clip=OuterRef("pk")).order_by("-created_at").values("created_at")[:1]
    return Greatest(
        F("finished_at"),
        Coalesce(newest_review("created_at"), F("finished_at")),
        Coalesce(Subquery(last_report), F("finished_at")),
    )


def _held(destination: str, field: str, version: str):
    """The SyncState row of the outer object that already wants (or holds) its latest change."""
    return SyncState.objects.filter(destination=destination, **{field: OuterRef("pk")}, version__gte=OuterRef(version))


def _since(destination: str):
    """Where a tick's window starts: the newest change the destination already has a row for
    (its cursor), less SYNC_DISCOVERY_MARGIN_SECONDS for transactions that commit late. None:
    no row yet (a new deployment or an upgrade), so the tick looks at every object, once."""
    newest = SyncCursor.objects.filter(destination=destination).values_list("discovered_until", flat=True).first()
    if newest is None:  # no cursor yet: from the rows there are
        newest = SyncState.objects.filter(destination=destination).aggregate(v=Max("version"))["v"]
    if newest is None:
        return None
    return newest - timedelta(seconds=settings.SYNC_DISCOVERY_MARGIN_SECONDS)


def _window(sources, *, limit: int) -> list | None:
    """The primary keys the sources (indexed range reads) return; None when one has more than
    `limit` (a long stop: the full look instead)."""
    ids: set = set()
    for source in sources:
        found = list(source[: limit + 1])
        if len(found) > limit:
            return None
        ids.update(found)
    return list(ids)


def recently_changed_clips(*, limit: int) -> list | None:
    """The clips that may have changed since the newest change DynamoDB already has a row for
    (less the margin): three indexed range reads, so a tick costs what changed, not how many
    clips exist. None means "look at every clip": the first tick (no row yet), or more changes
    than `limit` since then (a long stop)."""
    since = _since(D.DYNAMODB)
    if since is None:
        return None
    return _window(
        [
            Clip.objects.filter(finished_at__gte=since).order_by("finished_at").values_list("pk", flat=True),
            Review.objects.filter(created_at__gte=since).order_by("created_at").values_list("clip_id", flat=True),
            FalseAlertReport.objects.filter(created_at__gte=since)
            .order_by("created_at")
            .values_list("clip_id", flat=True),
        ],
        limit=limit,
    )


def recent_items(*, limit: int) -> list | None:
    """The review items that may need a Label Studio task since the cursor: created since, or
    whose clip finished (processed again) since. Without it the anti-join read every item and,
    for their clips' status, every clip: seconds at 10 M clips (#13)."""
    since = _since(D.LS_TASK)
    if since is None:
        return None
    return _window(
        [
            ReviewItem.objects.filter(created_at__gte=since).order_by("created_at").values_list("pk", flat=True),
            ReviewItem.objects.filter(clip__finished_at__gte=since).values_list("pk", flat=True),
        ],
        limit=limit,
    )


def recent_reviews(*, limit: int) -> list | None:
    """The Vigia decisions that may need an annotation since the cursor: made since, or whose
    item's task changed since (a task created after its decision: the decision waits for it)."""
    since = _since(D.LS_ANNOTATION)
    if since is None:
        return None
    tasks = SyncState.objects.filter(destination=D.LS_TASK, updated_at__gte=since).values("item_id")
    return _window(
        [
            Review.objects.filter(created_at__gte=since).order_by("created_at").values_list("pk", flat=True),
            Review.objects.filter(item_id__in=tasks).values_list("pk", flat=True),
        ],
        limit=limit,
    )


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
        qs = ReviewItem.objects.filter(clip__status=Clip.Status.DONE)
        recent = recent_items(limit=limit)
        if recent is not None:
            qs = qs.filter(pk__in=recent)
        qs = qs.annotate(changed_at=F("created_at"))
        return qs.filter(~Exists(_held(destination, "item", "changed_at")))
    if destination == D.LS_ANNOTATION:
        # A Vigia decision becomes an annotation once its item's task exists.
        task_done = SyncState.objects.filter(destination=D.LS_TASK, item=OuterRef("item_id"), status=S.DONE)
        qs = Review.objects.filter(source=Review.Source.VIGIA)
        recent = recent_reviews(limit=limit)
        if recent is not None:
            qs = qs.filter(pk__in=recent)
        qs = qs.filter(Exists(task_done)).annotate(changed_at=F("created_at"))
        return qs.filter(~Exists(_held(destination, "review", "changed_at")))
    raise ValueError(destination)


_FK = {D.DYNAMODB: "clip_id", D.LS_TASK: "item_id", D.LS_ANNOTATION: "review_id"}


def discover(destination: str, *, limit: int = 5000) -> int:
    """Upsert a pending row for every object the anti-join returns. Returns how many."""
    now = timezone.now()
    found = list(unsynced(destination, limit=limit).values_list("pk", "changed_at")[:limit])
    rows = [
        SyncState(
            destination=destination,
            object_key=str(pk),
            **{_FK[destination]: pk},
            version=changed_at,
            status=S.PENDING,
            attempts=0,
            last_error="",
            next_attempt_at=now,
        )
        for pk, changed_at in found
    ]
    if rows:
        SyncState.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["destination", "object_key"],
            update_fields=["version", "status", "attempts", "last_error", "next_attempt_at"],
        )
        newest = max(changed_at for _, changed_at in found)
        cursor, created = SyncCursor.objects.get_or_create(
            destination=destination, defaults={"discovered_until": newest}
        )
        if not created:  # only forward: a slower concurrent tick must not move it back
            SyncCursor.objects.filter(id=cursor.id, discovered_until__lt=newest).update(discovered_until=newest)
    return len(rows)

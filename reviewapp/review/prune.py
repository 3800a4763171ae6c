"""Row retention (#13): clips nobody will look at again are deleted once CLIP_RETENTION_DAYS
old, so a year of clips does not weigh on the queue, the label sync's discovery or the analysis.

What goes: a clip recorded (and created) before the retention horizon, done or failed, that did
not alert (the customer's alert history stays), that has no review item (no near-threshold or
audit sample, no review, no customer report's item), no false-alert report and no alert in the
outbox, and that nothing registered here still needs (labeling registers the clips its DynamoDB
sync has not settled and the near-threshold extractions: `register_keep`). With it goes what
cascades from it by its foreign keys' on_delete, as Django's collector would (`_delete_rows`):
its kept Detection boxes, its settled SyncState rows (an ExtractedClip too, were there one); a
suppression rule made from it stays, without its source clip; the second look's results are
the clip's own columns. Then,
after the rows commit, the objects Vigia wrote for it: its detail (`<clip>.detections.json.gz`),
its browser copy and, for an uploaded clip, its file. A clip ingested by reference (external_id
`s3://bucket/key`) leaves its object alone: the company's bucket and its lifecycle rule own it.

The horizon is a UTC midnight (`retention_horizon`): whole UTC days go, so the rollups' rebuild
knows from which day every clip is still there (rollups.rebuild_floor). Pruning does not go
through `rollups.clip_change`: the error analysis keeps counting a pruned clip.

Batches: the candidates by the clip_recorded_at index (a WINDOW of recorded_at below the horizon,
oldest first, after the sweep's cursor), then in one short transaction each: lock them
(FOR UPDATE SKIP LOCKED: a clip a service is changing right now waits for the next run), check
them again in a new statement (a review item committed meanwhile keeps its clip), delete.
`clips_prune` stops when its time budget is spent; the next run carries on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dtime

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import CASCADE, SET_NULL, Exists, Min, OuterRef, Q, QuerySet
from django.db.models.deletion import get_candidate_relations_to_delete

from reviewapp.core import metrics
from reviewapp.review.models import AlertOutbox, Clip, FalseAlertReport, PruneCursor, Review, ReviewItem

log = logging.getLogger(__name__)

# Functions returning an Exists() over OuterRef("pk") (a clip): such clips are kept. Other apps
# add theirs from their AppConfig.ready() (reviewapp never imports labeling).
KeepCondition = Callable[[], Exists]
_keep: dict[str, KeepCondition] = {}


def register_keep(name: str, fn: KeepCondition) -> None:
    """Keep the clips `fn()` holds for (the same name again replaces it)."""
    _keep[name] = fn


def retention_horizon(now: datetime) -> datetime | None:
    """Clips recorded before this go: the UTC midnight on or before now - CLIP_RETENTION_DAYS.
    None when CLIP_RETENTION_DAYS is 0 (kept forever)."""
    days = settings.CLIP_RETENTION_DAYS
    if not days:
        return None
    day = (now.astimezone(UTC) - timedelta(days=days)).date()
    return datetime.combine(day, dtime.min, tzinfo=UTC)


def prunable(*, now: datetime) -> QuerySet[Clip]:
    """The clips the retention deletes now (none when it is off)."""
    horizon = retention_horizon(now)
    if horizon is None:
        return Clip.objects.none()
    qs = (
        Clip.objects.filter(
            recorded_at__lt=horizon,
            created_at__lt=horizon,  # a clip uploaded late stays its first CLIP_RETENTION_DAYS
            status__in=[Clip.Status.DONE, Clip.Status.FAILED],  # never one queued or in the worker
        )
        .filter(Q(alert=False) | Q(alert__isnull=True))
        .exclude(Exists(ReviewItem.objects.filter(clip=OuterRef("pk"))))
        .exclude(Exists(FalseAlertReport.objects.filter(clip=OuterRef("pk"))))
        .exclude(Exists(AlertOutbox.objects.filter(clip=OuterRef("pk"))))
    )
    for fn in _keep.values():
        qs = qs.exclude(fn())
    return qs


@dataclass
class PruneRun:
    clips: int = 0  # rows of clips deleted (or, dry, that would be)
    objects: int = 0  # objects deleted
    object_errors: int = 0  # objects that could not be deleted (left behind, logged)
    batches: int = 0
    seconds: float = 0.0
    finished: bool = False  # nothing left below the horizon (else the budget ran out)
    horizon: datetime | None = None
    kept_by_race: int = 0  # candidates a concurrent change kept (locked, or queued meanwhile)


def _objects_of(row: dict) -> list[str]:
    """The storage names Vigia wrote for the clip: its detail (unless expired), its browser copy,
    and its file unless it was ingested by reference."""
    names = []
    if row["detail"] and row["detail_expired_at"] is None:
        names.append(row["detail"])
    if row["preview"]:
        names.append(row["preview"])
    if row["file"] and not (row["external_id"] or "").startswith("s3://"):
        names.append(row["file"])
    return names


def _delete_objects(names: list[str]) -> tuple[int, int]:
    """Delete the objects (a missing one is fine); returns (deleted, failed). S3: DeleteObjects,
    1,000 keys a request; other storages one by one."""
    if not names:
        return 0, 0
    bucket = getattr(default_storage, "bucket", None)
    if bucket is not None and hasattr(default_storage, "_normalize_name"):
        deleted = failed = 0
        for i in range(0, len(names), 1000):
            chunk = names[i : i + 1000]
            keys = [{"Key": default_storage._normalize_name(n)} for n in chunk]
            try:
                answer = bucket.delete_objects(Delete={"Objects": keys, "Quiet": True})
            except Exception:
                log.exception("prune: cannot delete %d object(s) (left behind)", len(chunk))
                failed += len(chunk)
                continue
            errors = answer.get("Errors") or []
            for e in errors[:5]:
                log.warning("prune: cannot delete %s: %s", e.get("Key"), e.get("Message"))
            failed += len(errors)
            deleted += len(chunk) - len(errors)
        return deleted, failed
    deleted = failed = 0
    for name in names:
        try:
            default_storage.delete(name)  # FileSystemStorage: a missing file is no error
            deleted += 1
        except FileNotFoundError:
            deleted += 1
        except Exception:
            log.exception("prune: cannot delete %s (left behind)", name)
            failed += 1
    return deleted, failed


# The clip's relations the re-check proved empty (a clip with any of them is kept): Django's
# collector would read each of them per batch for nothing.
_KEPT_BY = (ReviewItem, Review, FalseAlertReport, AlertOutbox)


def _delete_rows(ids: list) -> None:
    """Delete the clips and what cascades from them, as Django's collector would (every reverse
    relation of Clip, labeling's too, by its on_delete), without reading the relations that keep
    a clip nor loading the clips: CASCADE to a model nothing points at is one DELETE, SET_NULL
    one UPDATE. Any other relation (a future one with dependents of its own) goes through the
    collector."""
    simple = []
    for rel in get_candidate_relations_to_delete(Clip._meta):  # what the collector looks at
        model = rel.related_model
        if model in _KEPT_BY:
            continue
        if rel.on_delete is CASCADE and not any(get_candidate_relations_to_delete(model._meta)):
            simple.append((rel, "delete"))
        elif rel.on_delete is SET_NULL:
            simple.append((rel, "null"))
        else:
            break
    else:
        for rel, how in simple:
            related = rel.related_model._base_manager.filter(**{f"{rel.field.name}__in": ids})
            if how == "delete":
                related._raw_delete(related.db)
            else:
                related.update(**{rel.field.name: None})
        clips = Clip._base_manager.filter(pk__in=ids)
        clips._raw_delete(clips.db)
        return
    Clip.objects.filter(pk__in=ids).delete()


_FIELDS = ("id", "recorded_at", "file", "preview", "detail", "detail_expired_at", "external_id")


def _batch(ids: list, *, now: datetime, dry_run: bool) -> tuple[list[dict], int]:
    """Delete the clips of `ids` that are still prunable, in one transaction; returns their rows
    (for their objects) and how many a concurrent change kept."""
    with transaction.atomic():
        clips = Clip.objects.filter(pk__in=ids)
        if not dry_run:  # a dry run takes no lock
            clips = clips.select_for_update(skip_locked=True, of=("self",))
        locked = list(clips.values_list("pk", flat=True))
        # A new statement: it sees what committed before the locks were had (a review item).
        rows = list(prunable(now=now).filter(pk__in=locked).values(*_FIELDS))
        if rows and not dry_run:
            _delete_rows([r["id"] for r in rows])
    return rows, len(ids) - len(rows)


# A candidate query reads at most this much of recorded_at: a stretch of kept clips only (a swept
# day: its reviewed, reported and alerted clips, ~10 %) costs one short query, not a year's walk.
WINDOW = timedelta(hours=6)


def _cursor_get() -> tuple | None:
    row = PruneCursor.objects.filter(name="clips").values_list("recorded_at", "clip_id").first()
    return None if row is None or row[0] is None else row


def _cursor_set(pos: tuple | None) -> None:
    recorded_at, clip_id = pos or (None, None)
    PruneCursor.objects.update_or_create(name="clips", defaults={"recorded_at": recorded_at, "clip_id": clip_id})


def _window_keys(*, now: datetime, pos: tuple, high: datetime, batch: int) -> list[tuple]:
    """(recorded_at, id) of up to `batch` prunable clips after `pos` and before `high`, in order."""
    low, low_id = pos
    candidates = prunable(now=now).filter(recorded_at__lt=high)
    if low_id is None:
        candidates = candidates.filter(recorded_at__gte=low)
    else:
        candidates = candidates.filter(Q(recorded_at__gt=low) | Q(recorded_at=low, id__gt=low_id))
    return list(candidates.order_by("recorded_at", "id").values_list("recorded_at", "id")[:batch])


def _run_batch(run: PruneRun, ids: list, *, now: datetime, dry_run: bool) -> None:
    """One batch: the rows in their transaction, then (committed) their objects."""
    rows, kept = _batch(ids, now=now, dry_run=dry_run)
    run.batches += 1
    run.clips += len(rows)
    run.kept_by_race += kept
    if not dry_run:
        deleted, failed = _delete_objects([n for r in rows for n in _objects_of(r)])
        run.objects += deleted
        run.object_errors += failed
        metrics.clips_pruned(clips=len(rows), objects=deleted, object_errors=failed)


def clips_prune(
    *, now: datetime | None = None, batch: int | None = None, budget: float | None = None, dry_run: bool = False
) -> PruneRun:
    """Delete prunable clips in batches until none is left or `budget` seconds have passed
    (CLIP_PRUNE_BATCH, CLIP_PRUNE_BUDGET_SECONDS by default). A sweep in (recorded_at, id) order
    from the oldest clip to the horizon, WINDOW by WINDOW, kept in PruneCursor: a run carries on
    where the last one stopped, and at the horizon the sweep starts again from the oldest clip
    (a clip kept for a while, its DynamoDB row unsettled, goes on a later sweep). A dry run
    deletes nothing: it sweeps once from the start, without the cursor, counting what would go."""
    now = now or datetime.now(UTC)
    batch = batch or settings.CLIP_PRUNE_BATCH
    budget = settings.CLIP_PRUNE_BUDGET_SECONDS if budget is None else budget
    run = PruneRun(horizon=retention_horizon(now))
    if run.horizon is None:
        run.finished = True
        return run
    started = time.monotonic()
    pos = None if dry_run else _cursor_get()  # (recorded_at, id or None: inclusive) or None: the start
    wrapped = pos is None  # a sweep from the start ends at the horizon
    while True:
        if pos is None:
            first = Clip.objects.filter(recorded_at__lt=run.horizon).aggregate(first=Min("recorded_at"))["first"]
            if first is None:
                run.finished = True
                if not dry_run:
                    _cursor_set(None)  # its updated_at: when the retention last ran (/metrics)
                break
            pos = (first, None)
        high = min(pos[0] + WINDOW, run.horizon)
        keys = _window_keys(now=now, pos=pos, high=high, batch=batch)
        if keys:
            pos = keys[-1]
            _run_batch(run, [k[1] for k in keys], now=now, dry_run=dry_run)
        elif high < run.horizon:
            pos = (high, None)  # nothing more in this window: the next one
        else:  # the horizon: this sweep is done
            pos = None
            if wrapped:
                run.finished = True
            wrapped = True
        if not dry_run:
            _cursor_set(pos)
        if run.finished or time.monotonic() - started >= budget:
            break
    run.seconds = time.monotonic() - started
    if run.clips or not run.finished:
        log.info(
            "%s %d clip(s) recorded before %s (%d object(s), %d left behind) in %d batch(es), %.1f s%s",
            "would prune" if dry_run else "pruned",
            run.clips,
            run.horizon.date(),
            run.objects,
            run.object_errors,
            run.batches,
            run.seconds,
            "" if run.finished else ": the budget ran out, the next run carries on",
        )
    return run

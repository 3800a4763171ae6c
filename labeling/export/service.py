"""Training-set exports: balanced sets of reviewed frames, with hard negatives and augmentation.

    export_request(options=..., user=..., trigger=...)  check, select, create a queued ExportRun
    export_execute(export_id=...)                       what the Celery task runs

The parts, in the order an export meets them:
    options.py    the options, declared once (the command, the page and the checks come from it)
    selection.py  which reviewed clips: positives, hard and plain negatives, balanced; splits by camera
    frames.py     which frames of each clip and their boxes, read with OpenCV
    writers.py    the images, YOLO and COCO labels, manifest.jsonl and stats.json, in a staging area
    storage.py    a local folder or S3, published atomically (_COMPLETE written last)
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from labeling.export import storage
from labeling.export.options import ExportOptions, export_options_clean
from labeling.export.selection import export_select
from labeling.export.writers import export_build
from labeling.models import ExportRun
from reviewapp.core.errors import ApplicationError

log = logging.getLogger(__name__)


def export_request(
    *,
    options: dict[str, Any],
    user=None,
    trigger: str = "manual",
    enqueue: bool = True,
    local_only_under: Path | None = None,
) -> ExportRun:
    """Check the options and the selection, then create a queued ExportRun and queue its task
    (unless `enqueue` is False: the caller runs it itself).

    Bad options or an empty selection raise ApplicationError and store nothing."""
    opts = export_options_clean(options, local_only_under=local_only_under)
    export_select(opts)
    with transaction.atomic():
        run = ExportRun.objects.create(params=opts.as_params(), requested_by=user, trigger=trigger)
        run.name = f"{timezone.now():%Y%m%d-%H%M%S}-run{run.id}"
        run.save(update_fields=["name"])
        if enqueue:
            transaction.on_commit(lambda: _enqueue(run.id))
    log.info("export %s queued (%s) by %s", run.id, trigger, user or "schedule")
    return run


def _enqueue(export_id: int) -> None:
    # By the task's name (labeling.export.tasks.run_export): services never import their tasks.
    current_app.send_task("labeling.tasks.run_export", args=[export_id])


def _claim(export_id: int) -> bool:
    """queued -> running. A run still `running` after the task's hard time limit was killed (its
    task redelivered): it may be claimed again and restarts from scratch."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.EXPORT_TIME_LIMIT + 60)
    return bool(
        ExportRun.objects.filter(
            Q(status=ExportRun.Status.QUEUED) | Q(status=ExportRun.Status.RUNNING, started_at__lt=stale), id=export_id
        ).update(status=ExportRun.Status.RUNNING, started_at=now, attempts=F("attempts") + 1, error="")
    )


def export_execute(*, export_id: int) -> ExportRun | None:
    """Run a queued export. Returns None when there was nothing to do (done, failed, or another
    worker has it). Any failure removes what was staged and marks the run failed with the reason."""
    if not _claim(export_id):
        return None
    run = ExportRun.objects.get(id=export_id)
    target = staging = None
    try:
        opts = ExportOptions.from_params(run.params)
        target = storage.parse(opts.out)
        if target.is_complete(run.name):
            # A previous attempt published and died before saying so.
            _finish(run, status=ExportRun.Status.DONE, location=target.location(run.name))
            return run
        selection = export_select(opts)
        staging = target.staged(run.name)
        stats = export_build(opts, selection, staging, run_id=run.id, progress=_progress_saver(run.id))
        location = staging.publish(
            {
                "export_run": run.id,
                "name": run.name,
                "images": stats["images"],
                "completed_at": timezone.now().isoformat(),
                "options": opts.as_params(),
            }
        )
    except BaseException as exc:  # also SoftTimeLimitExceeded and KeyboardInterrupt: clean up, then re-raise those
        if staging is not None:
            staging.abort()
        message = exc.message if isinstance(exc, ApplicationError) else f"{type(exc).__name__}: {exc}"
        _finish(run, status=ExportRun.Status.FAILED, error=message)
        log.error("export %s failed: %s", run.id, message, exc_info=not isinstance(exc, ApplicationError))
        if not isinstance(exc, Exception):
            raise
        return run
    _finish(run, status=ExportRun.Status.DONE, location=location, counts=stats)
    log.info("export %s done: %d images at %s", run.id, stats["images"], location)
    return run


def _progress_saver(export_id: int):
    """The writer's progress, saved on the run (an UPDATE of two columns, outside any transaction
    so the page and the admin see it while the export runs)."""

    def save(done: int, total: int) -> None:
        ExportRun.objects.filter(id=export_id).update(images_done=done, images_total=total)

    return save


def _finish(run: ExportRun, *, status: str, location: str = "", counts: dict | None = None, error: str = "") -> None:
    run.status, run.finished_at, run.error = status, timezone.now(), error[:4000]
    fields = ["status", "finished_at", "error", "location", "counts"]
    if location:
        run.location = location
    if counts is not None:
        run.counts = counts
        # Done: the images written are the whole of it (frames a clip could not give are dropped).
        run.images_done = run.images_total = counts.get("images", 0)
        fields += ["images_done", "images_total"]
    run.save(update_fields=fields)

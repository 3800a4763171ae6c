"""Celery tasks of training-set exports and the near-threshold extraction. Task names are the
ones beat entries and queued messages carry (kept from before the move)."""

import logging

from celery import shared_task
from django.conf import settings

from labeling.export import extraction, storage
from labeling.export import service as export
from labeling.export.options import scheduled_options
from reviewapp.core.errors import ApplicationError

log = logging.getLogger(__name__)


class StorageHiccup(Exception):
    pass


# A retry after a storage hiccup re-runs the whole period: everything in it is idempotent.
@shared_task(
    name="labeling.tasks.extract_near_threshold",
    acks_late=True,
    soft_time_limit=1200,
    time_limit=1260,
    ignore_result=True,
    autoretry_for=(StorageHiccup,),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def extract_near_threshold(start: str | None = None, end: str | None = None) -> list[dict]:
    """The last two full periods (the one before catches clips processed after its end, and a
    beat tick that was missed), or [start, end) when given (ISO date-times)."""
    from django.utils.dateparse import parse_datetime

    if start and end:
        periods = [(parse_datetime(start), parse_datetime(end))]
    else:
        s, e = extraction.last_full_period()
        length = e - s
        periods = [(s - length, s), (s, e)]
    try:
        return [extraction.extraction_run(start=s, end=e) for s, e in periods]
    except storage.StorageError as exc:
        if exc.retryable:
            raise StorageHiccup(str(exc)) from exc
        log.error("near-threshold extraction failed: %s", exc)  # a wrong bucket: needs an operator
        return []
    except ApplicationError as exc:
        log.error("near-threshold extraction not run: %s", exc.message)
        return []


@shared_task(
    name="labeling.tasks.run_export",
    acks_late=True,
    soft_time_limit=settings.EXPORT_SOFT_TIME_LIMIT,
    time_limit=settings.EXPORT_TIME_LIMIT,
    ignore_result=True,
)
def run_export(export_id: int | None = None) -> None:
    """Run one ExportRun. Without an id (the weekly schedule) it first creates one from the
    scheduled options; an empty selection then is logged, not an error."""
    if export_id is None:
        try:
            run = export.export_request(options=scheduled_options(), trigger="schedule", enqueue=False)
        except ApplicationError as exc:
            log.warning("scheduled export not started: %s", exc.message)
            return
        export_id = run.id
    export.export_execute(export_id=export_id)

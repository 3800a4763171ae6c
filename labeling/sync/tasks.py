"""Celery tasks of the sync: a thin interface over labeling.sync.engine. The task name is the one
beat entries and queued messages carry (kept from before the move)."""

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from labeling.sync import engine as sync

log = logging.getLogger(__name__)


# No autoretry here: a failed send is recorded on its SyncState rows with their own backoff, and
# beat runs this again every few seconds. Whatever a killed or timed-out run held comes back when
# its lease (longer than time_limit) runs out.
@shared_task(
    name="labeling.tasks.sync_pending", acks_late=True, soft_time_limit=120, time_limit=150, ignore_result=True
)
def sync_pending() -> dict:
    try:
        sent = sync.sync_all(budget_seconds=90)
    except SoftTimeLimitExceeded:
        log.warning("sync run cut by its time limit; the rest goes next tick")
        return {}
    if any(sent.values()):
        log.info("synced %s", sent)
    return sent

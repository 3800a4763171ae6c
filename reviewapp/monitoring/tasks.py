"""Celery tasks of monitoring (names kept from before the move: beat entries carry them)."""

import logging

from celery import shared_task

from reviewapp.monitoring import drift

log = logging.getLogger(__name__)


@shared_task(name="reviewapp.tasks.check_drift", acks_late=True, soft_time_limit=600, time_limit=660)
def check_drift() -> int:
    """Compare every camera's recent scores with its baseline (idempotent: it rewrites each
    camera's latest result)."""
    flagged = drift.drift_check_all()
    log.info("drift check: %d camera(s) flagged", flagged)
    return flagged

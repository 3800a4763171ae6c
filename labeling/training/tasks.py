"""The weekly detector training (off unless DETECTOR_TRAINING_SCHEDULE): from the newest export,
promoted only through the gate."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from reviewapp.core.errors import ApplicationError

log = logging.getLogger(__name__)


@shared_task(
    name="labeling.tasks.train_detector",
    acks_late=True,
    soft_time_limit=settings.DETECTOR_TRAINING_TIME_LIMIT - 60,
    time_limit=settings.DETECTOR_TRAINING_TIME_LIMIT,
    ignore_result=True,
)
def train_detector() -> None:
    # Imported here: training imports torch, which no worker should carry for its whole life
    # (tests/test_startup.py) just because this task is registered.
    from labeling.training.service import detector_train

    try:
        detector_train(trigger="schedule")
    except ApplicationError as exc:
        log.warning("scheduled detector training not run: %s", exc.message)

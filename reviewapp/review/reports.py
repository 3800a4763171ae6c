"""Customers' "this is a false alert" reports."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from reviewapp.core import metrics
from reviewapp.core.errors import ApplicationError
from reviewapp.review import rollups
from reviewapp.review.models import Clip, FalseAlertReport, ReviewItem
from reviewapp.review.queue import review_item_enqueue


def false_alert_report(*, clip: Clip, user, reason: str = "") -> tuple[FalseAlertReport, bool]:
    """Record a customer's "this is a false alert" and put the clip on top of the review queue."""
    if not clip.alert:
        raise ApplicationError(_("this clip did not alert"), code="not_an_alert")
    with rollups.clip_change(clip.pk):  # the clip counts as reported (rollups) once it commits
        report, created = FalseAlertReport.objects.get_or_create(
            clip=clip, reported_by=user, defaults={"reason": reason}
        )
        if created:
            review_item_enqueue(clip=clip, reason=ReviewItem.Reason.CUSTOMER_REPORT)
            transaction.on_commit(lambda: metrics.false_alert_reported(clip.camera))
    return report, created

"""Celery tasks of tuning (names kept from before the move: beat entries carry them)."""

from celery import shared_task

from reviewapp.tuning.thresholds import recommendations_refresh_all


@shared_task(
    name="reviewapp.tasks.refresh_threshold_recommendations", acks_late=True, soft_time_limit=600, time_limit=660
)
def refresh_threshold_recommendations() -> int:
    """Recompute the stored threshold recommendations. It never applies one: a person does."""
    return recommendations_refresh_all()

from django.apps import AppConfig


class ReviewappConfig(AppConfig):
    """One Django app for the review domain (one schema, one migration history): its features
    are sub-packages (review, tuning, monitoring), the project itself is reviewapp.project."""

    name = "reviewapp"
    verbose_name = "Vigia review"

    def ready(self):
        from reviewapp.core import checks  # noqa: F401 - registers the deploy checks
        from reviewapp.monitoring import gauges

        gauges.register()  # the database gauges of /metrics

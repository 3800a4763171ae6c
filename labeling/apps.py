from django.apps import AppConfig


class LabelingConfig(AppConfig):
    name = "labeling"
    verbose_name = "Labels out (Label Studio, DynamoDB)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # The sync's gauges join reviewapp's /metrics (reviewapp cannot import labeling).
        from labeling import metrics
        from reviewapp.core.metrics import register_db_collector

        register_db_collector("sync", metrics.collect)
        register_db_collector("exports", metrics.collect_exports)

        # The retention keeps the clips the sync still has to send, and the extracted ones.
        from labeling import retention
        from reviewapp.review.prune import register_keep

        register_keep("dynamodb-unsettled", retention.unsettled_sync)
        register_keep("extracted", retention.extracted)

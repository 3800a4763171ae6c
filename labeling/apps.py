from django.apps import AppConfig


class LabelingConfig(AppConfig):
    name = "labeling"
    verbose_name = "Labels out (Label Studio, DynamoDB)"
    default_auto_field = "django.db.models.BigAutoField"

# #13: a customer's deep alert pages and /metrics' recent decisions, each from an index alone.

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviewapp", "0015_clip_sent_at"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The clip's id in the key: the alerts' tie-break, and a page of keys without the clips' rows
        # (`alert` too, implied by the condition, for SQLite's planner to see the index as covering).
        migrations.RemoveIndex(model_name="clip", name="clip_alerts"),
        migrations.AddIndex(
            model_name="clip",
            index=models.Index(
                condition=models.Q(("alert", True)),
                fields=["camera", "-recorded_at", "-id", "alert"],
                name="clip_alerts",
            ),
        ),
        # The reviewer and verdict in the key: the decisions of the last hours by an index-only scan.
        migrations.RemoveIndex(model_name="review", name="review_created_at"),
        migrations.AddIndex(
            model_name="review",
            index=models.Index(fields=["created_at", "reviewer", "verdict"], name="review_created_at"),
        ),
    ]

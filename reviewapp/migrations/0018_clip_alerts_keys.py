# #13: a page of a customer's alerts found from the clip_alerts index alone, however deep.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviewapp", "0015_clip_sent_at"),
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
    ]

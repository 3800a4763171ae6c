from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviewapp", "0016_drift_rollups"),
    ]

    operations = [
        migrations.CreateModel(
            name="PruneCursor",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(default="clips", max_length=16, unique=True)),
                ("recorded_at", models.DateTimeField(blank=True, null=True)),
                ("clip_id", models.UUIDField(blank=True, null=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
    ]

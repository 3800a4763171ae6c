# #13: /metrics' clips of the last hours that are not done, from an index of those clips only.
#
# On PostgreSQL built CONCURRENTLY (it reads every clip; ingest and the worker keep writing
# meanwhile), hence not atomic; an interrupted build leaves an invalid index: dropped and built
# again on the next run.

from django.db import migrations, models

INDEX = models.Index(
    condition=models.Q(("status__in", ("queued", "processing", "failed"))), fields=["recorded_at"], name="clip_not_done"
)


def add(apps, schema_editor):
    clip = apps.get_model("reviewapp", "Clip")
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.add_index(clip, INDEX)
        return
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS clip_not_done")
    schema_editor.add_index(clip, INDEX, concurrently=True)


def remove(apps, schema_editor):
    clip = apps.get_model("reviewapp", "Clip")
    schema_editor.remove_index(
        clip, INDEX, **({"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {})
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("reviewapp", "0018_clip_alerts_keys"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="clip", index=INDEX)],
            database_operations=[migrations.RunPython(add, remove)],
        ),
    ]

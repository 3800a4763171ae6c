# #13: a page of a customer's alerts found from the clip_alerts index alone, however deep.
#
# The clip's id in the key: the alerts' tie-break, and a page of keys without the clips' rows
# (`alert` too, implied by the condition, for SQLite's planner to see the index as covering).
# On PostgreSQL the new index is built CONCURRENTLY under another name, then takes the old one's
# place: the build reads every clip (2.4 s at 1 M clips), and ingest and the worker keep
# writing clips meanwhile. Hence not atomic.

from django.db import migrations, models

BEFORE = models.Index(condition=models.Q(("alert", True)), fields=["camera", "-recorded_at"], name="clip_alerts")
AFTER = models.Index(
    condition=models.Q(("alert", True)), fields=["camera", "-recorded_at", "-id", "alert"], name="clip_alerts"
)


def _swap(old: models.Index, new: models.Index):
    def run(apps, schema_editor):
        clip = apps.get_model("reviewapp", "Clip")
        if schema_editor.connection.vendor != "postgresql":
            schema_editor.remove_index(clip, old)
            schema_editor.add_index(clip, new)
            return
        building = models.Index(condition=new.condition, fields=new.fields, name="clip_alerts_building")
        # An interrupted build leaves an invalid index of that name: start again.
        schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS clip_alerts_building")
        schema_editor.add_index(clip, building, concurrently=True)
        schema_editor.remove_index(clip, old, concurrently=True)
        schema_editor.execute("ALTER INDEX clip_alerts_building RENAME TO clip_alerts")

    return run


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("reviewapp", "0017_prune_cursor"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="clip", name="clip_alerts"),
                migrations.AddIndex(model_name="clip", index=AFTER),
            ],
            database_operations=[migrations.RunPython(_swap(BEFORE, AFTER), _swap(AFTER, BEFORE))],
        ),
    ]

from django.db import migrations

TAGS = [
    ("dog", "Dog", "1"),
    ("other-animal", "Other animal", "2"),
    ("insect", "Insect", "3"),
    ("car", "Car", "4"),
    ("cone", "Cone", "5"),
    ("low-resolution", "Low resolution", "6"),
    ("light-shadow", "Light / shadow", "7"),
    ("other", "Other", "8"),
]


def seed(apps, schema_editor):
    Tag = apps.get_model("reviewapp", "Tag")
    for slug, name, key in TAGS:
        Tag.objects.get_or_create(slug=slug, defaults={"name": name, "key": key})


class Migration(migrations.Migration):
    dependencies = [("reviewapp", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]

# Time zones: a customer's (its users see times in it) and a reviewer's own choice; the choices' labels translatable (#16).

from django.db import migrations, models

import reviewapp.core.timezones


class Migration(migrations.Migration):
    dependencies = [
        ("reviewapp", "0010_clip_detail"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="timezone",
            field=models.CharField(
                default="America/Sao_Paulo",
                max_length=64,
                validators=[reviewapp.core.timezones.validate_timezone],
                verbose_name="time zone",
            ),
        ),
        migrations.AddField(
            model_name="profile",
            name="timezone",
            field=models.CharField(
                blank=True,
                default="",
                max_length=64,
                validators=[reviewapp.core.timezones.validate_timezone],
                verbose_name="time zone",
            ),
        ),
    ]

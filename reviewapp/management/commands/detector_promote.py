"""python manage.py detector_promote VERSION | --rollback

An operator's override of the gate: point the registry's `production` alias (which workers on
DETECTOR=models:/vigia-detector@production follow within DETECTOR_ALIAS_REFRESH_SECONDS) at a
version, or back at the one production pointed at before."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inference.training import registry


class Command(BaseCommand):
    help = "Promote a vigia-detector version to production, or roll back to the previous one."

    def add_arguments(self, parser):
        parser.add_argument("version", nargs="?", default="")
        parser.add_argument("--rollback", action="store_true")

    def handle(self, *args, version, rollback, **options):
        if bool(version) == rollback:
            raise CommandError("give a VERSION or --rollback")
        c = registry.client(settings.MLFLOW_TRACKING_URI)
        try:
            if rollback:
                was, now = registry.rollback(c)
            else:
                registry.resolve(c, f"{registry.MODEL_NAME}/{version}")  # exists?
                was = registry.promote(c, version, reason="promoted by an operator (detector_promote)")
                now = version
        except Exception as exc:
            raise CommandError(f"{registry.MODEL_NAME}: {exc}") from exc
        self.stdout.write(json.dumps({"production": now, "previous": was}))

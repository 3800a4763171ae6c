"""Demo data for `make run`: a customer, a camera, a reviewer, a customer user, an ingest
service user, and a few clips ingested through the same service the API calls."""

import tempfile
from datetime import timedelta
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils import timezone

from reviewapp.review import demo, ingest
from reviewapp.review.models import Camera

USERS = [
    ("reviewer", "reviewer", None),
    ("customer", "customer", "Acme Security"),
    ("ingest", "ingest", None),
]
PASSWORD = "vigia-demo"


class Command(BaseCommand):
    help = "Create demo customer, camera and users and ingest demo clips (idempotent)."

    def handle(self, *args, **options):
        call_command("add_customer", "Acme Security", stdout=self.stdout)
        call_command("add_camera", "Acme Security", "acme-front-door", stdout=self.stdout)
        for username, role, customer in USERS:
            extra = ["--customer", customer] if customer else []
            call_command("add_user", username, "--role", role, "--password", PASSWORD, *extra, stdout=self.stdout)
        camera = Camera.objects.get(name="acme-front-door")
        now = timezone.now().replace(second=0, microsecond=0)
        with tempfile.TemporaryDirectory() as tmp:
            for minutes_ago, name in enumerate(demo.PHOTOS):
                path = demo.write_clip(Path(tmp) / f"{name}.mp4", demo.photo(name))
                clip, created = ingest.clip_ingest(
                    camera=camera,
                    path=str(path),
                    recorded_at=now - timedelta(minutes=minutes_ago + 1),
                    external_id=f"demo-{name}",
                )
                self.stdout.write(f"{'queued' if created else 'exists'}: clip {clip.id} ({name})")

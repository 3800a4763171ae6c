"""Run the per-camera drift check now (beat runs it every DRIFT_CHECK_SECONDS) and print it."""

from django.core.management.base import BaseCommand

from reviewapp.monitoring import drift
from reviewapp.monitoring.models import CameraDrift


class Command(BaseCommand):
    help = "Compare each camera's recent clip scores with its baseline (PSI) and print the result."

    def handle(self, *args, **options):
        flagged = drift.drift_check_all()
        for d in CameraDrift.objects.select_related("camera").order_by("-flagged", "camera__name"):
            psi = "not enough clips" if d.psi_score is None else f"PSI scores {d.psi_score:.3f}"
            boxes = "" if d.psi_detections is None else f", boxes {d.psi_detections:.3f}"
            mark = "FLAGGED " if d.flagged else ""
            self.stdout.write(f"{mark}{d.camera.name}: {psi}{boxes} ({d.baseline_clips} / {d.current_clips} clips)")
        self.stdout.write(f"{flagged} camera(s) flagged")

"""python manage.py train_detector [--export RUN_ID] [--holdout CAM1,CAM2] [--epochs N] [--seed S]
    [--sweep "lr=1e-4,3e-4;epochs=5,10"] [--no-promote] [--heldout-labels CSV]

Fine-tunes the CenterNet detector on a training-set export (the newest by default), logs the run
in MLflow, registers it as vigia-detector and promotes it (alias production) only when the
held-out cameras' clips get fewer false alerts at equal recall. The last line of the output is
one JSON object: {"model_uri", "version", "promoted", "reason", "heldout": {"before", "after"}, ...}.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from labeling.training.service import detector_train
from reviewapp.core.errors import ApplicationError


class Command(BaseCommand):
    help = "Fine-tune the detector from reviewed clips, tracked in MLflow, promoted only through the held-out gate."

    def add_arguments(self, parser):
        parser.add_argument("--export", type=int, default=None, help="the ExportRun id (default: the newest done)")
        parser.add_argument("--holdout", default="", help="comma-separated cameras to judge on (default: val/test)")
        parser.add_argument("--epochs", type=int, default=None)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--sweep", default="", help='a grid, e.g. "lr=1e-4,3e-4;epochs=5,10"')
        parser.add_argument("--no-promote", action="store_true", help="record the decision, never move the alias")
        parser.add_argument("--heldout-labels", type=Path, default=None, help="labels CSV of held-out clips")

    def handle(self, *args, **o):
        if o["epochs"] is not None and o["epochs"] < 1:
            raise CommandError("--epochs must be at least 1")
        try:
            summary = detector_train(
                export_id=o["export"],
                holdout=[c.strip() for c in o["holdout"].split(",") if c.strip()] or None,
                epochs=o["epochs"],
                seed=o["seed"],
                sweep=o["sweep"],
                promote=not o["no_promote"],
                heldout_labels=o["heldout_labels"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        for e in summary.pop("epochs"):
            self.stdout.write(f"epoch {e['epoch']}: loss {e['loss']}, {e['seconds']} s, held-out {e}")
        for c in summary.pop("clips"):
            self.stdout.write(
                f"held-out {c['clip_file']} ({c['camera']}, person {c['person']}): {c['score']} -> {c['score_after']}"
            )
        self.stdout.write(json.dumps(summary, default=str))

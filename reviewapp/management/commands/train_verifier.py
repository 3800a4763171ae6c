from django.core.management.base import BaseCommand, CommandError

from reviewapp.core.errors import ApplicationError
from reviewapp.tuning.verifier_training import verifier_train


class Command(BaseCommand):
    help = (
        "Train the verifier (person vs. not on detector crops) from reviewed clips, track the run in "
        "MLflow, register it, and promote it only if held-out cameras get fewer false alerts at equal recall."
    )

    def add_arguments(self, parser):
        parser.add_argument("--holdout", default="", help="comma-separated cameras to judge on (default: ~1/4 by hash)")
        parser.add_argument("--epochs", type=int, default=20)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--no-promote", action="store_true", help="record the decision but never move the alias")

    def handle(self, *args, holdout, epochs, seed, no_promote, **options):
        if epochs < 1:
            raise CommandError("--epochs must be at least 1")
        try:
            report = verifier_train(
                holdout=[c.strip() for c in holdout.split(",") if c.strip()] or None,
                epochs=epochs,
                seed=seed,
                promote=not no_promote,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"trained on cameras {', '.join(report.train_cameras)} ({report.examples['train']} crops, "
            f"{report.examples['train_people']} people); held out {', '.join(report.holdout_cameras) or 'none'}\n"
            f"held-out clips, now: {report.baseline}\n"
            f"held-out clips, with this model: {report.candidate}\n"
            f"MLflow run {report.run_id}, registered version {report.version}: "
            f"{'PROMOTED' if report.promoted else 'not promoted'}: {report.reason}"
        )

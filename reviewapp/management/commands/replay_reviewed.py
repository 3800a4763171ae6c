import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inference import replay
from reviewapp.tuning.verifier_training import reviewed_labels_write


class Command(BaseCommand):
    help = (
        "Replay the reviewed clips in time order through every false-alert strategy "
        "(python -m inference.replay on a LABELS.csv written from the database)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--out", type=Path, default=None, help="folder for labels.csv and the clip links (default: temporary)"
        )
        parser.add_argument("--threshold", type=float, default=None, help="default: DEFAULT_THRESHOLD")
        parser.add_argument("replay_args", nargs="*", help="more options for inference.replay, after --")

    def handle(self, *args, out, threshold, replay_args, **options):
        with tempfile.TemporaryDirectory() as tmp:
            folder = out or Path(tmp)
            labels, rows = reviewed_labels_write(out=folder)
            if rows == 0:
                raise CommandError("no reviewed clip with its file: nothing to replay")
            self.stderr.write(f"{rows} reviewed clips written to {labels}")
            argv = [
                str(labels),
                "--threshold",
                str(settings.DEFAULT_THRESHOLD if threshold is None else threshold),
                "--detector",
                settings.DETECTOR,
                "--fps",
                str(settings.SAMPLE_FPS),
                "--min-change",
                str(settings.MIN_CHANGE),
                "--review-band",  # the replay makes rules from production's floor
                str(settings.DEFAULT_REVIEW_BAND),
                "--tracking-uri",
                settings.MLFLOW_TRACKING_URI,
                *replay_args,
            ]
            # The replay prints its table and the JSON line itself; its exit status is ours.
            status = replay.main(argv)
        if status:
            raise CommandError(f"the replay ended with status {status}")

"""python manage.py export_training_set [--out DIR|s3://bucket/prefix] [options]

Checks the options and the selection, creates an ExportRun and queues the Celery task that the
admin button and the weekly schedule also run. `--wait` follows it to the end; `--here` runs that
task's work in this process instead (no worker needed)."""

import json
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from labeling.export import service as export
from labeling.models import ExportRun
from reviewapp.core.errors import ApplicationError


class Command(BaseCommand):
    help = "Export a balanced training set (COCO + YOLO + manifest) from the reviewed clips."

    def add_arguments(self, parser):
        parser.add_argument("--out", help="local folder or s3://bucket/prefix (default EXPORT_OUT or EXPORT_ROOT)")
        parser.add_argument("--camera", action="append", help="camera name; repeatable")
        parser.add_argument("--customer", help="customer id")
        parser.add_argument("--tag", action="append", help="only negatives with this tag; repeatable")
        parser.add_argument("--since", help="ISO date or date-time, inclusive")
        parser.add_argument("--until", help="cut-off: ISO date (whole day included) or date-time (exclusive)")
        parser.add_argument("--model-version", dest="model_version")
        parser.add_argument("--ratio", help="negatives per positive (default 1)")
        parser.add_argument(
            "--easy-share",
            dest="easy_share",
            help="share of the negatives that are plain no-person clips (default 0.25)",
        )
        parser.add_argument("--camera-cap", dest="camera_cap", help="max clips per camera and class")
        parser.add_argument("--tag-cap", dest="tag_cap", help="max hard-negative clips per tag")
        parser.add_argument("--frames-per-clip", dest="frames_per_clip", help="default 3")
        parser.add_argument(
            "--box-min-score", dest="box_min_score", help="person boxes kept on positives (default 0.3)"
        )
        parser.add_argument("--split", help="train,val,test shares (default 0.7,0.15,0.15)")
        parser.add_argument("--seed", help="default 0")
        parser.add_argument(
            "--augment", choices=export.AUGMENT_CHOICES, help="class to augment in train (default negative)"
        )
        parser.add_argument("--augment-max", dest="augment_max", help="max augmented copies per image (default 2)")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--wait", action="store_true", help="queue, then wait for the worker to finish it")
        group.add_argument("--here", action="store_true", help="run the export in this process")

    def handle(self, *args, **options):
        keys = [
            "out",
            "camera",
            "customer",
            "tag",
            "since",
            "until",
            "model_version",
            "ratio",
            "easy_share",
            "camera_cap",
            "tag_cap",
            "frames_per_clip",
            "box_min_score",
            "split",
            "seed",
            "augment",
            "augment_max",
        ]
        raw = {k: options[k] for k in keys if options.get(k) not in (None, [])}
        try:
            run = export.export_request(options=raw, trigger="command", enqueue=not options["here"])
        except ApplicationError as exc:
            details = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.fields.items()) or exc.message
            raise CommandError(details) from exc
        self.stdout.write(f"export {run.id} queued: {run.name}")
        if options["here"]:
            export.export_execute(export_id=run.id)
        elif options["wait"]:
            # A run still queued after this long has no worker consuming the default queue.
            deadline = time.monotonic() + settings.EXPORT_TIME_LIMIT + 120
            while True:
                run.refresh_from_db()
                if run.status in (ExportRun.Status.DONE, ExportRun.Status.FAILED):
                    break
                if time.monotonic() > deadline:
                    raise CommandError(f"export {run.id} still {run.status}: is a worker running?")
                time.sleep(2)
        else:
            return
        run.refresh_from_db()
        if run.status == ExportRun.Status.FAILED:
            raise CommandError(f"export {run.id} failed: {run.error}")
        self.stdout.write(f"export {run.id} done: {run.location}")
        self.stdout.write(
            json.dumps({k: run.counts.get(k) for k in ("images", "augmented", "by_split", "by_class")}, indent=2)
        )

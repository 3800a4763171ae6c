"""python manage.py export_training_set [--out DIR|s3://bucket/prefix] [options]

Checks the options and the selection, creates an ExportRun and queues the Celery task that the
admin button and the weekly schedule also run. `--wait` follows it to the end; `--here` runs that
task's work in this process instead (no worker needed)."""

import json
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inference.progress import bar
from labeling.export import service as export
from labeling.export.options import OPTION_NAMES, ExportOptions
from labeling.models import ExportRun
from reviewapp.core.errors import ApplicationError
from reviewapp.review.filters import declared


def option_arguments(parser) -> None:
    """An argument for every declared export option (labeling.export.options): --name-with-dashes,
    given again for a repeatable one."""
    for f, opt in declared(ExportOptions):
        default = "" if f.default in (None, "", ()) else f" (default {_shown(f.default)})"
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            action="append" if opt.repeatable else "store",
            choices=opt.choices or None,
            help=opt.help + default,
        )


def _shown(value) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, tuple) else str(value)


def _wait(run: ExportRun, poll: float = 2.0) -> None:
    """Until the worker has finished the run, its progress (images done of total, the run's
    fields) as a bar on stderr when that is a terminal."""
    # A run still queued after this long has no worker consuming the default queue.
    deadline = time.monotonic() + settings.EXPORT_TIME_LIMIT + 120
    with bar(desc=f"export {run.id}", unit="image") as progress:
        while True:
            run.refresh_from_db()
            if run.images_total:
                progress.total, progress.n = run.images_total, run.images_done
                progress.refresh()
            if run.status in (ExportRun.Status.DONE, ExportRun.Status.FAILED):
                return
            if time.monotonic() > deadline:
                raise CommandError(f"export {run.id} still {run.status}: is a worker running?")
            time.sleep(poll)


class Command(BaseCommand):
    help = "Export a balanced training set (COCO + YOLO + manifest) from the reviewed clips."

    def add_arguments(self, parser):
        option_arguments(parser)
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--wait", action="store_true", help="queue, then wait for the worker to finish it")
        group.add_argument("--here", action="store_true", help="run the export in this process")

    def handle(self, *args, **options):
        raw = {k: options[k] for k in OPTION_NAMES if options.get(k) not in (None, [])}
        try:
            run = export.export_request(options=raw, trigger="command", enqueue=not options["here"])
        except ApplicationError as exc:
            details = "; ".join(f"{k}: {', '.join(v)}" for k, v in exc.fields.items()) or exc.message
            raise CommandError(details) from exc
        self.stdout.write(f"export {run.id} queued: {run.name}")
        if options["here"]:
            export.export_execute(export_id=run.id)
        elif options["wait"]:
            _wait(run)
        else:
            return
        run.refresh_from_db()
        if run.status == ExportRun.Status.FAILED:
            raise CommandError(f"export {run.id} failed: {run.error}")
        self.stdout.write(f"export {run.id} done: {run.location}")
        self.stdout.write(
            json.dumps({k: run.counts.get(k) for k in ("images", "augmented", "by_split", "by_class")}, indent=2)
        )

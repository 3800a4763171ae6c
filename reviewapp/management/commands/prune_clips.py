"""Delete the clips the retention lets go (CLIP_RETENTION_DAYS, reviewapp/review/prune.py): what
the beat task `prune_clips` does every CLIP_PRUNE_SECONDS, by hand, with a dry run."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reviewapp.review import prune


class Command(BaseCommand):
    help = (
        "Delete the clips recorded more than CLIP_RETENTION_DAYS ago that nobody reviewed or reported "
        "and that did not alert, with the objects Vigia wrote for them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="count what would go, delete nothing")
        parser.add_argument("--batch", type=int, help=f"clips per transaction (default {settings.CLIP_PRUNE_BATCH})")
        parser.add_argument(
            "--budget",
            type=float,
            help=f"stop after this many seconds (default {settings.CLIP_PRUNE_BUDGET_SECONDS:g}; 0: until done)",
        )

    def handle(self, *args, dry_run=False, batch=None, budget=None, **options):
        if batch is not None and batch < 1:
            raise CommandError("--batch: at least 1")
        if budget is not None and budget < 0:
            raise CommandError("--budget: 0 (until done) or more seconds")
        if not settings.CLIP_RETENTION_DAYS:
            self.stdout.write("CLIP_RETENTION_DAYS is 0: clips are kept forever, nothing to prune")
            return
        run = prune.clips_prune(batch=batch, budget=float("inf") if budget == 0 else budget, dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        rate = f", {run.clips / run.seconds:,.0f} clips/s" if run.seconds and run.clips else ""
        objects = "" if dry_run else f", {run.objects} object(s) ({run.object_errors} could not be deleted)"
        self.stdout.write(
            f"{verb} {run.clips} clip(s) recorded before {run.horizon:%Y-%m-%d} (UTC){objects} "
            f"in {run.batches} batch(es), {run.seconds:.1f} s{rate}"
            + ("" if run.finished else "; the budget ran out: run again (or let the beat task) for the rest")
        )

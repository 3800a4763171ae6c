"""Recompute the error analysis's rollups and the drift check's (DriftHour) from the clips (the
first deploy, a repair, a changed NIGHT_MAX_SATURATION): bulk SQL in one transaction; changes made
meanwhile wait and then apply."""

import time
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from reviewapp.review import rollups


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since: {value!r} is not an ISO date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = "Rebuild the error-analysis rollups from the processed clips (all, or recorded since a UTC day)."

    def add_arguments(self, parser):
        parser.add_argument("--since", type=_day, help="UTC day (YYYY-MM-DD): rebuild the clips recorded from it on")
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="only when there are processed clips and no rollups yet, or no drift rollup (deploys)",
        )

    def handle(self, *args, since=None, if_empty=False, **options):
        if if_empty and not rollups.rollups_missing():
            self.stdout.write("rollups: nothing to build (already built, or no processed clip)")
            return
        started = time.monotonic()
        rows = rollups.rollups_rebuild(since=since)
        counts = ", ".join(f"{name} {n}" for name, n in rows.items())
        self.stdout.write(
            f"rollups rebuilt{f' since {since}' if since else ''} in {time.monotonic() - started:.1f} s: {counts}"
        )

"""Recompute the error analysis's rollups and the drift check's (DriftHour) from the clips (the
first deploy, a repair, a changed NIGHT_MAX_SATURATION): bulk SQL in one transaction; changes made
meanwhile wait and then apply."""

import time
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

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
        parser.add_argument(
            "--including-pruned-days",
            action="store_true",
            help="every day, also those before the retention's horizon: the counts of pruned clips are lost",
        )

    def handle(self, *args, since=None, if_empty=False, including_pruned_days=False, **options):
        if if_empty and not rollups.rollups_missing():
            self.stdout.write("rollups: nothing to build (already built, or no processed clip)")
            return
        floor = rollups.rebuild_floor()
        # Every day only when the analysis' rollups are empty (nothing to lose): when they are
        # there and only DriftHour is new, its days before the horizon are not needed (the drift
        # reads the last weeks) and the analysis' counts of pruned clips must stay.
        everything = including_pruned_days or (if_empty and not rollups.AnalysisHour.objects.exists())
        if (including_pruned_days or if_empty) and since is not None:
            raise CommandError("--since and --including-pruned-days (or --if-empty): one or the other")
        if not everything and floor is not None and (since is None or since < floor):
            if since is not None:
                self.stdout.write(
                    f"--since {since}: from {floor} instead, the day after the retention's horizon "
                    "(CLIP_RETENTION_DAYS: older clips may be pruned; --including-pruned-days to rebuild them anyway)"
                )
            since = floor
        started = time.monotonic()
        rows = rollups.rollups_rebuild(since=since, everything=everything)
        if connection.vendor == "postgresql":
            # The planner's statistics of the new rows now, not at autovacuum's next pass: without
            # them /metrics' window of cells was read as a scan of every cell (176 ms at 1 M clips).
            with connection.cursor() as cursor:
                cursor.execute(
                    "ANALYZE " + ", ".join(connection.ops.quote_name(t.model._meta.db_table) for t in rollups.TABLES)
                )
        counts = ", ".join(f"{name} {n}" for name, n in rows.items())
        self.stdout.write(
            f"rollups rebuilt{f' since {since}' if since else ''} in {time.monotonic() - started:.1f} s: {counts}"
        )

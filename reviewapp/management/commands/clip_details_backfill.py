"""Move the Detection rows of clips processed before 0010_clip_detail to detail files (every box
of every frame beside the clip), keeping the handful of rows new clips keep. Safe to rerun."""

from django.core.management.base import BaseCommand
from django.db.models import Exists, OuterRef

from reviewapp.review import detail
from reviewapp.review.models import Clip, Detection


class Command(BaseCommand):
    help = "Move old clips' per-box Detection rows to detail files in the clip storage."

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=10_000, help="clips per run (default 10,000)")

    def handle(self, *args, limit, **options):
        old = Clip.objects.filter(status=Clip.Status.DONE, detail="", detail_expired_at=None).filter(
            Exists(Detection.objects.filter(clip=OuterRef("pk")))
        )
        moved = 0
        for clip in old.order_by("finished_at")[:limit]:
            moved += detail.detail_backfill(clip=clip)
        self.stdout.write(f"{moved} clip(s) moved to detail files")

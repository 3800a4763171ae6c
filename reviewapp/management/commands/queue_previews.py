"""Queue the browser copy of processed clips that have none (clips from before previews existed)."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from reviewapp.review import preview
from reviewapp.review.models import Clip


class Command(BaseCommand):
    help = "Queue the preview task for done clips without a preview, newest first."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=7, help="clips recorded in the last N days (default 7)")
        parser.add_argument("--camera", action="append", default=[], help="only this camera; repeatable")
        parser.add_argument("--limit", type=int, default=10000, help="at most this many clips (default 10000)")

    def handle(self, *args, days, camera, limit, **options):
        if days < 1 or limit < 1:
            raise CommandError("--days and --limit must be at least 1")
        clips = Clip.objects.filter(
            status=Clip.Status.DONE, preview="", recorded_at__gte=timezone.now() - timedelta(days=days)
        )
        if camera:
            clips = clips.filter(camera__name__in=camera)
        ids = list(clips.order_by("-recorded_at").values_list("id", flat=True)[:limit])
        for clip_id in ids:
            # Outside a transaction: sent at once. Forced: asked for, whatever PREVIEW_CLIPS says.
            preview.clip_preview_enqueue(clip_id=clip_id, force=True)
        # Clips that play in browsers as they are stay without one: queued again, found not needed.
        self.stdout.write(f"queued {len(ids)} clip(s) for a preview")

"""Consume the clip bucket's S3 events from SQS (CLIP_EVENTS_QUEUE_URL): reviewapp.review.events."""

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from reviewapp.core import metrics
from reviewapp.review import events


class Command(BaseCommand):
    help = "Long-poll the clip-events queue and ingest each new object of the clip bucket by reference."

    def add_arguments(self, parser):
        parser.add_argument("--wait", type=int, default=20, help="Long-poll seconds (1-20).")
        parser.add_argument(
            "--concurrency", type=int, default=None, help="Messages handled at once (default CLIP_EVENTS_CONCURRENCY)."
        )
        parser.add_argument("--batches", type=int, default=None, help="Stop after this many polls (default: never).")
        parser.add_argument(
            "--idle-if-unset",
            action="store_true",
            help="Without CLIP_EVENTS_QUEUE_URL, wait for a signal instead of failing (a compose service).",
        )

    def handle(self, *args, wait, batches, concurrency, idle_if_unset, **options):
        queue_url = settings.CLIP_EVENTS_QUEUE_URL
        if not queue_url and not idle_if_unset:
            raise CommandError("CLIP_EVENTS_QUEUE_URL is unset: there is no queue to consume")
        if queue_url and not settings.CLIP_BUCKET:
            raise CommandError("CLIP_BUCKET is unset: clips are ingested by reference from the clip bucket")
        stop = threading.Event()

        def _stop(signum, _frame):  # finish the message in hand, then exit
            self.stdout.write(f"signal {signum}: stopping after the current message")
            stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        metrics.worker_metrics_serve()  # on WORKER_METRICS_PORT when set, as a worker does
        if not queue_url:  # off: stay up (and scrapeable) so the stack looks the same either way
            self.stdout.write("CLIP_EVENTS_QUEUE_URL is unset: clip events are off")
            stop.wait()
            return
        self.stdout.write(f"consuming {queue_url} for s3://{settings.CLIP_BUCKET}/clips/")
        handled = events.consume(
            queue_url=queue_url,
            stop=stop,
            wait_seconds=max(1, min(wait, 20)),
            batches=batches,
            concurrency=max(1, min(concurrency or settings.CLIP_EVENTS_CONCURRENCY, 10)),
        )
        self.stdout.write(f"{handled} message(s) handled")

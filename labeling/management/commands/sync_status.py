import json

from django.core.management.base import BaseCommand

from labeling import sync


class Command(BaseCommand):
    help = "Print the sync counts per destination and status (failed ones need an operator)."

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(sync.sync_counts(), indent=2, sort_keys=True))

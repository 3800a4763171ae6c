import json

from django.core.management.base import BaseCommand

from labeling.sync import state


class Command(BaseCommand):
    help = "Print the sync counts per destination and status (failed ones need an operator)."

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(state.sync_counts(), indent=2, sort_keys=True))

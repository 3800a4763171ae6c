from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from labeling.sync import dynamo


class Command(BaseCommand):
    help = "Create the DynamoDB clip table (definition in labeling/dynamo.py) if it does not exist."

    def handle(self, *args, **options):
        if not dynamo.enabled():
            raise CommandError("DYNAMODB_TABLE is not set")
        try:
            created = dynamo.table_create()
        except dynamo.DynamoError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"table {settings.DYNAMODB_TABLE} {'created' if created else 'already exists'}")

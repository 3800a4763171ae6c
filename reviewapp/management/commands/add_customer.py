from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from reviewapp.core.timezones import validate_timezone
from reviewapp.review.models import Customer


class Command(BaseCommand):
    help = "Create a customer (or set an existing one's time zone with --timezone)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--timezone", default="", help="an IANA zone, e.g. America/Sao_Paulo (the default)")

    def handle(self, *args, name, timezone, **options):
        name = name.strip()
        if not name:
            raise CommandError("the customer name must not be empty")
        try:
            validate_timezone(timezone)
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from exc
        customer, created = Customer.objects.get_or_create(name=name)
        if timezone and customer.timezone != timezone:
            Customer.objects.filter(pk=customer.pk).update(timezone=timezone)
            customer.timezone = timezone
        self.stdout.write(f"{'created' if created else 'exists'}: customer {customer.name} ({customer.timezone})")

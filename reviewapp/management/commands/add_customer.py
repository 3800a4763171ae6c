from django.core.management.base import BaseCommand, CommandError

from reviewapp.review.models import Customer


class Command(BaseCommand):
    help = "Create a customer."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        name = name.strip()
        if not name:
            raise CommandError("the customer name must not be empty")
        customer, created = Customer.objects.get_or_create(name=name)
        self.stdout.write(f"{'created' if created else 'exists'}: customer {customer.name}")

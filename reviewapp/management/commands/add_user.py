from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

from reviewapp.review.models import Customer, Profile


class Command(BaseCommand):
    help = "Create a user with a role. Prints the user's API token as the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Profile.Role.values)
        parser.add_argument("--customer", help="required for --role customer")
        parser.add_argument("--password", help="for the web pages; without it the user can only use the API token")

    def handle(self, *args, username, role, customer, password, **options):
        owner = None
        if role == Profile.Role.CUSTOMER:
            if not customer:
                raise CommandError("--customer is required for a customer user")
            owner = Customer.objects.filter(name=customer).first()
            if owner is None:
                raise CommandError(f"no customer named {customer!r} (add it with add_customer)")
        elif customer:
            raise CommandError("--customer only applies to --role customer")
        User = get_user_model()
        if password:
            try:  # AUTH_PASSWORD_VALIDATORS, as for a password set on the site
                validate_password(
                    password, user=User.objects.filter(username=username).first() or User(username=username)
                )
            except ValidationError as exc:
                raise CommandError("the password is refused: " + " ".join(exc.messages)) from None
        with transaction.atomic():
            user, created = User.objects.get_or_create(username=username)
            if password:
                user.set_password(password)
            elif created:
                user.set_unusable_password()
            user.save()
            Profile.objects.update_or_create(user=user, defaults={"role": role, "customer": owner})
            token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(f"{'created' if created else 'updated'}: {role} {username}")
        self.stdout.write(token.key)

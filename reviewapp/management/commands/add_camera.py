from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.text import slugify

from reviewapp.review.models import Camera, Customer


def unit_interval(value: str) -> float:
    number = float(value)
    if not 0 <= number <= 1:
        raise ValueError
    return number


class Command(BaseCommand):
    help = "Create a camera for a customer (or update its threshold)."

    def add_arguments(self, parser):
        parser.add_argument("customer")
        parser.add_argument("camera", help="the camera's id in the monitoring system (letters, digits, - and _)")
        parser.add_argument("--threshold", type=unit_interval, default=None, help="0..1")
        parser.add_argument("--review-band", type=unit_interval, default=None, help="0..1")

    def handle(self, *args, customer, camera, threshold, review_band, **options):
        try:
            owner = Customer.objects.get(name=customer)
        except Customer.DoesNotExist:
            raise CommandError(f"no customer named {customer!r} (add it with add_customer)") from None
        if slugify(camera) != camera:
            raise CommandError(f"camera name {camera!r} may only hold letters, digits, - and _")
        cam, created = Camera.objects.get_or_create(
            name=camera,
            defaults={
                "customer": owner,
                "threshold": settings.DEFAULT_THRESHOLD if threshold is None else threshold,
                "review_band": settings.DEFAULT_REVIEW_BAND if review_band is None else review_band,
            },
        )
        if not created:
            if cam.customer_id != owner.id:
                raise CommandError(f"camera {camera!r} belongs to another customer")
            if threshold is not None:
                cam.threshold = threshold
            if review_band is not None:
                cam.review_band = review_band
            cam.save()
        self.stdout.write(
            f"{'created' if created else 'updated'}: camera {cam.name} of {owner.name}, threshold {cam.threshold}"
        )

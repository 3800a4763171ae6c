"""The viewer's time zone: pages show times in it, the error analysis buckets hours and days in it.

A customer's users see their customer's zone (Customer.timezone); reviewers and operators their own
choice (Profile.timezone, the settings page); everyone else settings.TIME_ZONE."""

import zoneinfo
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

DEFAULT_CUSTOMER_TIMEZONE = "America/Sao_Paulo"


@lru_cache(maxsize=1)
def available_timezones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def validate_timezone(value: str) -> None:
    """An IANA name zoneinfo knows (empty passes: the field's blank rule decides)."""
    if not value:
        return
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        message = _("%(zone)s is not a known time zone.")
        raise ValidationError(message, params={"zone": value}, code="timezone") from exc


def zone_of(user) -> zoneinfo.ZoneInfo | None:
    """The user's zone, None for the default (settings.TIME_ZONE)."""
    if user is None or not user.is_authenticated:
        return None
    profile = getattr(user, "profile", None)
    if profile is None:
        return None
    name = profile.customer.timezone if profile.role == "customer" and profile.customer_id else profile.timezone
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):  # a name saved before validation: the default
        return None


class TimezoneMiddleware:
    """Activates the viewer's zone for the request (after AuthenticationMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        zone = zone_of(getattr(request, "user", None))
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()

"""Rate limits on the shared cache (CACHE_URL: Redis in production, so every gunicorn worker
counts together): the API per user and per anonymous address (DRF throttles), and failed
logins per username and per address (the login page)."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.core.cache import cache
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class ApiUserThrottle(UserRateThrottle):
    """Per user (token or session). The rate is read per request, so a setting change applies."""

    def get_rate(self):
        return settings.API_THROTTLE_USER or None


class ApiAnonThrottle(AnonRateThrottle):
    def get_rate(self):
        return settings.API_THROTTLE_ANON or None


def _login_limits(request) -> list[tuple[str, int]]:
    """(cache key, failures allowed) per username and per address. Behind a proxy REMOTE_ADDR is
    the proxy's, shared by everyone: hence a separate, higher limit for addresses."""
    username = (request.POST.get("username") or "").strip().lower()[:150]
    return [
        (f"login-failures:user:{username}", settings.LOGIN_MAX_FAILURES),
        (f"login-failures:addr:{request.META.get('REMOTE_ADDR', '')}", settings.LOGIN_MAX_FAILURES_PER_ADDRESS),
    ]


def login_blocked(request) -> bool:
    return any(limit and (cache.get(key) or 0) >= limit for key, limit in _login_limits(request))


def login_failed(request) -> None:
    for key, _limit in _login_limits(request):
        cache.add(key, 0, timeout=settings.LOGIN_BLOCK_SECONDS)  # the window starts at the first failure
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=settings.LOGIN_BLOCK_SECONDS)


class LoginView(auth_views.LoginView):
    """Django's login page, refusing (429) a username after LOGIN_MAX_FAILURES wrong passwords
    within LOGIN_BLOCK_SECONDS, an address after LOGIN_MAX_FAILURES_PER_ADDRESS."""

    def post(self, request, *args, **kwargs):
        if login_blocked(request):
            form = self.get_form_class()(request=request)  # unbound: no password is checked
            response = self.render_to_response(self.get_context_data(form=form, blocked=True))
            response.status_code = 429
            return response
        return super().post(request, *args, **kwargs)

    def form_invalid(self, form):
        login_failed(self.request)
        return super().form_invalid(form)

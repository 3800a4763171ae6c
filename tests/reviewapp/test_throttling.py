"""Rate limits: the API per user and per anonymous address (429 in the error shape), failed
logins per username and per address, on the shared cache (Redis in production)."""

import pytest
from django.test import Client

from tests.conftest import api_client


def _login(client, username, password, addr="10.0.0.1"):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=addr)


def test_a_username_is_refused_after_too_many_wrong_passwords(world, settings):
    settings.LOGIN_MAX_FAILURES = 3
    for i in range(3):
        assert _login(Client(), "rita", "wrong", addr=f"10.0.1.{i}").status_code == 200  # the form again
    blocked = _login(Client(), "rita", "pw-123456", addr="10.0.1.9")  # even the right password now
    assert blocked.status_code == 429
    assert "Too many failed logins" in blocked.content.decode()
    assert "_auth_user_id" not in blocked.client.session
    assert _login(Client(), "rob", "pw-123456", addr="10.0.1.9").status_code == 302  # another user: fine


def test_an_address_is_refused_after_too_many_wrong_passwords(world, settings):
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 3
    for name in ("a", "b", "c"):
        _login(Client(), name, "wrong", addr="10.0.2.1")
    assert _login(Client(), "rob", "pw-123456", addr="10.0.2.1").status_code == 429
    assert _login(Client(), "rob", "pw-123456", addr="10.0.2.2").status_code == 302


def test_the_api_throttles_each_user(world, settings):
    settings.API_THROTTLE_USER = "3/min"
    client = api_client(world.customer_a)
    assert [client.get("/api/v1/alerts/").status_code for _ in range(3)] == [200, 200, 200]
    throttled = client.get("/api/v1/alerts/")
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "throttled"
    assert api_client(world.customer_b).get("/api/v1/alerts/").status_code == 200  # counted per user


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6379/6"}
    }
    from django.core.cache import cache

    try:
        cache.clear()
    except Exception as exc:  # no Redis on this machine
        pytest.skip(f"no Redis on 127.0.0.1:6379: {exc}")
    yield cache
    cache.clear()


def test_the_login_limit_is_kept_in_the_shared_cache(world, settings, redis_cache):
    settings.LOGIN_MAX_FAILURES = 2
    _login(Client(), "rita", "wrong")
    _login(Client(), "rita", "wrong")
    assert redis_cache.get("login-failures:user:rita") == 2  # in Redis: every web process sees it
    assert _login(Client(), "rita", "pw-123456").status_code == 429

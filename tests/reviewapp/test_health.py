"""`/healthz/` (reviewapp/core/health.py): the load balancer's and compose's health check."""

import pytest
from django.test import Client

from tests.reviewapp.test_ingest_faults import DatabaseGone


@pytest.mark.django_db(transaction=True)
def test_healthz_answers_ok_with_one_query_and_no_login_session_or_csrf(django_assert_num_queries):
    client = Client(enforce_csrf_checks=True)
    with django_assert_num_queries(1):
        response = client.get("/healthz/")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert not response.cookies  # no session, no CSRF cookie
    assert "no-cache" in response["Cache-Control"]
    assert client.head("/healthz/").status_code == 200
    assert client.post("/healthz/").status_code == 405  # a probe, not a form: and no CSRF 403 either


@pytest.mark.django_db(transaction=True)
def test_healthz_is_503_in_the_error_shape_while_the_database_is_unreachable():
    client = Client()
    with DatabaseGone():
        response = client.get("/healthz/")
    assert response.status_code == 503, response.content
    assert response.json()["error"]["code"] == "service_unavailable" and response["Retry-After"] == "5"
    assert client.get("/healthz/").status_code == 200  # the database back: healthy again

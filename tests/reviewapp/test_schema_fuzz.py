"""The API fuzzed from its own live schema (schemathesis, #12): `/api/v1/schema/` as served,
every operation called with generated parameters and bodies (valid and not) as a reviewer, a
customer and the ingest role. Each answer: never a 5xx, its status declared in the schema
(the errors too: reviewapp/core/openapi.py), its content type and body as declared."""

import json

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from schemathesis import checks

from tests.conftest import api_client
from tests.factories import ClipFactory, ReviewItemFactory

pytestmark = pytest.mark.django_db

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


def token(user) -> dict:
    return {"Authorization": f"Token {user.auth_token.key}"}


def served_schema() -> dict:
    """What `/api/v1/schema/` serves (its view's generator, hooks included), built at collection
    (before any database: parametrizing needs the operations). The test below checks that the
    live view serves this very document. (`schemathesis.pytest.from_fixture`, the lazy loader,
    fails on pytest 9: `Function` has no `_nodeid`.)"""
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


SERVED = served_schema()
schema = schemathesis.openapi.from_dict(json.loads(json.dumps(SERVED, default=str)))


@pytest.fixture
def clips(world):
    """Clips of both tenants, some in the review queue: lists and /review/next/ answer bodies."""
    for camera in (world.cam_a, world.cam_b):
        for _ in range(3):
            ReviewItemFactory(clip=ClipFactory(camera=camera))
        ClipFactory(camera=camera, alert=False, score=0.1)


@pytest.fixture
def app(settings):
    from reviewapp.project.wsgi import application

    settings.API_THROTTLE_USER = ""  # the fuzzer is faster than any reviewer
    # The real WSGI application, in this process and its test transaction: as Django's test
    # client does, the end of a request must not close the (test) database connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield application
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@hypothesis.settings(
    max_examples=20,
    deadline=None,
    derandomize=True,  # the same cases every run: a failure here is reproducible
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_every_answer_is_declared_and_never_a_5xx(case, world, app, clips):
    for user in (world.reviewer, world.customer_a, world.ingest):
        response = case.call(headers=token(user), app=app)
        case.validate_response(response, checks=CHECKS, headers=token(user))


def test_the_schema_declares_the_error_shape_for_every_operation(world):
    body = api_client(world.reviewer).get("/api/v1/schema/?format=json").json()
    assert body == json.loads(json.dumps(SERVED, default=str))  # the fuzzed schema is the live one
    assert body["components"]["schemas"]["Error"]["required"] == ["error"]
    for path, methods in body["paths"].items():
        for method, operation in methods.items():
            for code in ("400", "401", "403", "404", "429", "503"):
                ref = operation["responses"][code]["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/Error", (method, path, code)


@pytest.mark.parametrize("body", ["null", "5", '"key"', '["key"]', "true"])
def test_an_upload_whose_json_body_is_not_an_object_is_a_400(world, body):
    """Found by the fuzzer: `null` was a 500 (`"key" in None`), `"key"` a substring test."""
    response = api_client(world.ingest).post("/api/v1/clips/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid"

"""Who may call what: every endpoint and page, for anonymous, reviewer, customer A, customer B,
the ingest service and an operator. The clips belong to customer A."""

import pytest
from django.test import Client

from tests.conftest import api_client
from tests.factories import ClipFactory, ReviewItemFactory

ROLES = ["anonymous", "reviewer", "customer_a", "customer_b", "ingest", "operator"]


@pytest.fixture
def clip_a(world):
    clip = ClipFactory(camera=world.cam_a, score=0.6, alert=True)
    ReviewItemFactory(clip=clip)
    return clip


def user_for(world, role):
    return None if role == "anonymous" else getattr(world, role)


# expected status per role, in ROLES order
API_CASES = [
    # The ingest role uploads for every tenant: it reads none of their clips.
    ("get", "/api/v1/clips/{clip}/", [401, 200, 200, 404, 404, 200]),
    ("get", "/api/v1/clips/not-a-uuid/", [401, 404, 404, 404, 404, 404]),
    ("get", "/api/v1/alerts/", [401, 403, 200, 200, 403, 403]),
    ("post", "/api/v1/clips/{clip}/false-alert/", [401, 403, 201, 404, 403, 403]),
    ("get", "/api/v1/review/next/", [401, 200, 403, 403, 403, 200]),
    ("post", "/api/v1/review/{item}/decision/", [401, 201, 403, 403, 403, 201]),
    ("post", "/api/v1/clips/", [401, 403, 403, 403, 400, 400]),
    # The schema and its docs page: for logged-in users, not the internet.
    ("get", "/api/v1/schema/?format=json", [401, 200, 200, 200, 200, 200]),
    ("get", "/api/v1/docs/", [302, 200, 200, 200, 200, 200]),  # a page: to the login page
]


@pytest.mark.parametrize("method, url, expected", API_CASES, ids=[f"{m} {u}" for m, u, _ in API_CASES])
@pytest.mark.parametrize("role_index", range(len(ROLES)), ids=ROLES)
def test_api_permissions(world, clip_a, method, url, expected, role_index):
    role = ROLES[role_index]
    client = api_client(user_for(world, role))
    url = url.format(clip=clip_a.id, item=clip_a.review_item.id)
    data = {"verdict": "no_person", "tags": ["dog"]} if "decision" in url else {}
    fmt = "multipart" if url == "/api/v1/clips/" else "json"
    response = getattr(client, method)(url, data, format=fmt) if method == "post" else client.get(url)
    assert response.status_code == expected[role_index], (role, url, getattr(response, "data", None))
    if response.status_code >= 400:
        assert set(response.json()) == {"error"}
        assert {"code", "message"} <= set(response.json()["error"])


PAGE_CASES = [
    ("get", "/review/", [302, 200, 403, 403, 403, 200]),
    ("get", "/review/history/", [302, 200, 403, 403, 403, 200]),
    ("get", "/clips/{clip}/", [302, 200, 200, 404, 403, 200]),
    ("get", "/clips/{clip}/video/", [302, 200, 200, 404, 403, 200]),
    ("get", "/clips/{clip}/frames/0.jpg", [302, 200, 200, 404, 403, 200]),
    ("get", "/alerts/", [302, 403, 200, 200, 403, 403]),
    ("get", "/alerts/{clip}/", [302, 200, 200, 404, 403, 200]),
    ("post", "/alerts/{clip}/report/", [302, 403, 302, 404, 403, 403]),
    ("post", "/review/{item}/decide/", [302, 302, 403, 403, 403, 302]),
    # what reviewers and operators use to cut false alerts and watch the system
    ("get", "/thresholds/", [302, 200, 403, 403, 403, 200]),
    ("get", "/thresholds/{camera}/", [302, 200, 403, 403, 403, 200]),
    ("get", "/rules/", [302, 200, 403, 403, 403, 200]),
    ("get", "/analysis/?since=2026-01-01", [302, 200, 403, 403, 403, 200]),
    ("get", "/analysis/clips/?since=2026-01-01", [302, 200, 403, 403, 403, 200]),
    ("get", "/drift/", [302, 200, 403, 403, 403, 200]),
    ("get", "/labeling/exports/new/", [302, 403, 403, 403, 403, 200]),
    ("get", "/metrics", [403, 403, 403, 403, 403, 200]),  # a machine endpoint: no login redirect
    ("get", "/labeling/sync/status/", [403, 200, 403, 403, 403, 200]),  # the same, plus reviewers
]


@pytest.mark.parametrize("method, url, expected", PAGE_CASES, ids=[f"{m} {u}" for m, u, _ in PAGE_CASES])
@pytest.mark.parametrize("role_index", range(len(ROLES)), ids=ROLES)
def test_page_permissions(world, clip_a, method, url, expected, role_index, video, settings):
    from pathlib import Path

    # The page views read the clip's real file.
    target = Path(settings.MEDIA_ROOT) / clip_a.file.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(video().read_bytes())
    role = ROLES[role_index]
    client = Client()
    user = user_for(world, role)
    if user is not None:
        client.force_login(user)
    url = url.format(clip=clip_a.id, item=clip_a.review_item.id, camera=clip_a.camera.name)
    response = client.post(url, {"verdict": "no_person"}) if method == "post" else client.get(url)
    assert response.status_code == expected[role_index], (role, url)
    if role == "anonymous" and response.status_code == 302:
        assert response["Location"].startswith("/login/")


def test_csrf_is_enforced_on_page_forms(world, clip_a):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.customer_a)
    response = client.post(f"/alerts/{clip_a.id}/report/", {"reason": "a cat"})
    assert response.status_code == 403
    assert not clip_a.reports.exists()


def test_a_clip_whose_file_is_gone_answers_404_not_500(world, clip_a):
    client = Client()
    client.force_login(world.reviewer)
    assert client.get(f"/clips/{clip_a.id}/video/").status_code == 404
    assert client.get(f"/clips/{clip_a.id}/frames/0.jpg").status_code == 404
    assert client.get(f"/clips/{clip_a.id}/").status_code == 200


def test_an_unknown_api_path_answers_404_in_the_error_shape(world):
    response = api_client(world.reviewer).get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    page = Client().get("/nothing-here/")
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")

"""`POST /api/v1/clips/` with `{"camera", "key"}` (a clip already in the bucket, by reference) and
`GET /api/v1/clips/` (the list, with the tenant rules), against moto's S3 over HTTP."""

import pytest

from reviewapp.review.models import Clip
from tests.conftest import api_client
from tests.factories import ClipFactory

UPLOAD_FIELDS = {
    "id",
    "camera",
    "recorded_at",
    "external_id",
    "status",
    "error",
    "score",
    "alert",
    "model_version",
    "duration",
    "fps",
    "width",
    "height",
    "size_bytes",
    "created_at",
    "review",
}


def post_key(user, **body):
    return api_client(user).post("/api/v1/clips/", body, format="json")


@pytest.mark.django_db
def test_a_clip_in_the_bucket_is_ingested_by_reference_once(world, video, bucket):
    key = "clips/acme-door/2026/11/30/ref.mp4"
    bucket.put(key, video(frames=30), metadata={"recorded-at": "2026-11-30T08:00:00+00:00"})
    response = post_key(world.ingest, camera="acme-door", key=key)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == UPLOAD_FIELDS  # the upload's answer
    assert body["external_id"] == f"s3://{bucket.name}/{key}" and body["recorded_at"] == "2026-11-30T08:00:00Z"
    assert body["status"] == "queued" and body["duration"] == 3.0
    assert Clip.objects.get(id=body["id"]).file.name == key

    again = post_key(world.ingest, camera="acme-door", key=key, recorded_at="2026-01-01T00:00:00Z")
    assert again.status_code == 200 and again.json()["id"] == body["id"]
    assert Clip.objects.count() == 1 and bucket.s3.list_objects_v2(Bucket=bucket.name)["KeyCount"] == 1


@pytest.mark.django_db
def test_a_reference_is_checked_like_an_upload(world, video, bucket, tmp_path):
    bucket.put("clips/acme-door/bad.mp4", b"not a video")
    bucket.put("clips/globex-gate/theirs.mp4", video())
    cases = [
        ({"camera": "acme-door", "key": "clips/acme-door/bad.mp4"}, "invalid_video"),
        ({"camera": "acme-door", "key": "clips/acme-door/missing.mp4"}, "not_found"),
        ({"camera": "acme-door", "key": "clips/globex-gate/theirs.mp4"}, "bad_key"),
        ({"camera": "no-such-cam", "key": "clips/no-such-cam/x.mp4"}, "invalid"),
        ({"camera": "acme-door"}, "invalid"),  # neither a file nor a key
    ]
    for body, code in cases:
        response = post_key(world.ingest, **body)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == code, (body, response.json())
    assert Clip.objects.count() == 0
    assert post_key(world.customer_a, camera="acme-door", key="clips/acme-door/bad.mp4").status_code == 403


@pytest.mark.django_db
def test_a_reference_needs_the_clip_bucket(world, settings):
    settings.CLIP_BUCKET = ""
    response = post_key(world.ingest, camera="acme-door", key="clips/acme-door/x.mp4")
    assert response.status_code == 400 and response.json()["error"]["code"] == "wrong_bucket"


@pytest.mark.django_db
def test_the_list_filters_and_follows_the_tenant_rules(world):
    a_done = ClipFactory(camera=world.cam_a, external_id="s3://b/clips/acme-door/1.mp4", status="done")
    a_queued = ClipFactory(camera=world.cam_a, status="queued")
    b_done = ClipFactory(camera=world.cam_b, status="done")

    def ids(user, query=""):
        response = api_client(user).get(f"/api/v1/clips/{query}")
        assert response.status_code == 200, response.json()
        return {c["id"] for c in response.json()["results"]}

    everything = {str(c.id) for c in (a_done, a_queued, b_done)}
    assert ids(world.ingest) == everything and ids(world.reviewer) == everything
    assert ids(world.ingest, "?external_id=s3://b/clips/acme-door/1.mp4") == {str(a_done.id)}
    assert ids(world.reviewer, "?camera=acme-door&status=queued") == {str(a_queued.id)}
    assert ids(world.customer_a) == {str(a_done.id), str(a_queued.id)}
    assert ids(world.customer_b, "?camera=acme-door") == set()  # not theirs: nothing
    customer_view = api_client(world.customer_a).get("/api/v1/clips/").json()["results"][0]
    assert "external_id" not in customer_view and "error" not in customer_view and "size_bytes" not in customer_view
    bad = api_client(world.ingest).get("/api/v1/clips/?status=exploded")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid"
    assert api_client().get("/api/v1/clips/").status_code in (401, 403)


@pytest.mark.django_db
def test_the_list_pages_with_a_cursor(world, django_assert_max_num_queries):
    for _ in range(7):
        ClipFactory(camera=world.cam_a)
    client, seen, url = api_client(world.reviewer), [], "/api/v1/clips/?page_size=3"
    while url:
        with django_assert_max_num_queries(4):  # auth, role, the page: not one query per clip
            page = client.get(url).json()
        seen += [c["id"] for c in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 7

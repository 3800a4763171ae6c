from pathlib import Path

import pytest

from reviewapp.review.models import Clip
from tests.conftest import api_client

URL = "/api/v1/clips/"


def post_clip(client, path: Path, camera="acme-door", recorded_at="2026-11-26T10:00:00Z", **extra):
    with open(path, "rb") as f:
        return client.post(URL, {"camera": camera, "file": f, "recorded_at": recorded_at, **extra}, format="multipart")


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_it_stores_a_valid_clip_and_queues_it(world, video, settings):
    response = post_clip(api_client(world.ingest), video(), external_id="cam-1-0001")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "queued"
    clip = Clip.objects.get(id=body["id"])
    assert clip.file.name == f"clips/acme-door/2026/11/26/{clip.id}.mp4"
    assert (Path(settings.MEDIA_ROOT) / clip.file.name).is_file()
    assert (clip.width, clip.height, clip.fps) == (320, 240, 10.0)
    assert clip.duration == pytest.approx(2.0)
    assert len(clip.sha256) == 64


def test_the_same_external_id_returns_the_existing_clip(world, video):
    client = api_client(world.ingest)
    first = post_clip(client, video("a.mp4", seed=1), external_id="ext-1")
    again = post_clip(client, video("b.mp4", seed=2), external_id="ext-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Clip.objects.count() == 1


def test_the_same_file_for_the_same_camera_returns_the_existing_clip(world, video):
    client = api_client(world.ingest)
    path = video()
    first = post_clip(client, path)
    again = post_clip(client, path)
    other_camera = post_clip(client, path, camera="globex-gate")
    assert (first.status_code, again.status_code, other_camera.status_code) == (201, 200, 201)
    assert again.json()["id"] == first.json()["id"]
    assert other_camera.json()["id"] != first.json()["id"]


def test_an_external_id_of_another_camera_is_a_conflict(world, video):
    client = api_client(world.ingest)
    post_clip(client, video("a.mp4", seed=1), external_id="ext-9")
    response = post_clip(client, video("b.mp4", seed=2), camera="globex-gate", external_id="ext-9")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def _truncated(tmp_path, video):
    data = video().read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(data[: len(data) // 2])
    return path


def _png_renamed(tmp_path, video):
    path = tmp_path / "image.mp4"
    path.write_bytes((Path(__file__).parents[2] / "tests/data/centernet/coffee_512.png").read_bytes())
    return path


def _text(tmp_path, video):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 50)
    return path


def _empty(tmp_path, video):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    return path


def _header_only(tmp_path, video):
    # Valid MP4 magic and nothing after it.
    path = tmp_path / "header.mp4"
    path.write_bytes(video().read_bytes()[:32])
    return path


@pytest.mark.parametrize("make_bad", [_empty, _text, _truncated, _png_renamed, _header_only])
def test_a_file_that_is_not_a_decodable_video_is_refused_and_nothing_is_stored(
    world, video, tmp_path, settings, make_bad
):
    response = post_clip(api_client(world.ingest), make_bad(tmp_path, video))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_video"
    assert error["message"]
    assert "file" in error["fields"]
    assert Clip.objects.count() == 0
    assert stored_files(settings) == []


def test_a_video_over_the_duration_limit_is_refused(world, video, settings):
    settings.CLIP_MAX_SECONDS = 1.0
    response = post_clip(api_client(world.ingest), video(frames=30))
    assert response.status_code == 400
    assert "limit" in response.json()["error"]["message"]
    assert Clip.objects.count() == 0 and stored_files(settings) == []


def test_a_file_over_the_size_limit_is_refused(world, video, settings):
    settings.CLIP_MAX_BYTES = 100
    response = post_clip(api_client(world.ingest), video())
    assert response.status_code == 413  # refused while the body streams in
    assert response.json()["error"]["code"] == "file_too_large"
    assert Clip.objects.count() == 0 and stored_files(settings) == []


@pytest.mark.parametrize(
    "fields, bad_field",
    [
        ({"camera": "nope"}, "camera"),
        ({"recorded_at": "yesterday"}, "recorded_at"),
        ({"recorded_at": ""}, "recorded_at"),
        ({"camera": ""}, "camera"),
    ],
)
def test_bad_form_fields_are_named_in_the_error(world, video, fields, bad_field):
    response = post_clip(api_client(world.ingest), video(), **{"camera": "acme-door", **fields})
    assert response.status_code == 400
    assert bad_field in response.json()["error"]["fields"]
    assert Clip.objects.count() == 0


def test_a_missing_file_is_a_clear_error(world):
    response = api_client(world.ingest).post(URL, {"camera": "acme-door", "recorded_at": "2026-11-26T10:00:00Z"})
    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]


def test_a_body_of_another_type_is_refused_with_the_same_error_shape(world):
    # JSON is a clip by reference ({"camera", "key"}: tests/reviewapp/test_clips_api.py); without
    # a key it still needs a file.
    response = api_client(world.ingest).post(URL, {"camera": "acme-door"}, format="json")
    assert response.status_code == 400 and "file" in response.json()["error"]["fields"]
    response = api_client(world.ingest).post(URL, "<clip/>", content_type="application/xml")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"

"""The clip's media for the pages (reviewapp/review/media.py): Range answers (206, 416), the
clip's own permissions, the preview played and the original downloaded, presigned S3 URLs, the
deciding box over the player and on the strip."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from django.test import Client
from django.utils import timezone

from inference.detector import Box
from inference.render import draw_boxes
from reviewapp.core.storage import preview_storage_name
from reviewapp.review import ingest, media, preview, processing
from reviewapp.review.demo import photo, write_clip
from reviewapp.review.models import Clip, Detection
from tests.factories import ClipFactory
from tests.reviewapp.test_s3_storage import s3_storage  # noqa: F401 - a fixture


@pytest.fixture
def clip_a(world, settings, video):
    """A clip of customer A with its original and a (fake) preview on disk."""
    clip = ClipFactory(camera=world.cam_a)
    original = Path(settings.MEDIA_ROOT) / clip.file.name
    original.parent.mkdir(parents=True, exist_ok=True)
    original.write_bytes(video().read_bytes())
    clip.preview.name = preview_storage_name(clip.file.name)
    (Path(settings.MEDIA_ROOT) / clip.preview.name).write_bytes(bytes(range(256)) * 40)  # 10240 bytes
    clip.save()
    return clip


def get(user, url, **headers):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get(url, headers=headers)


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


PREVIEW = bytes(range(256)) * 40


@pytest.mark.parametrize(
    "asked, first, last",
    [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, 10239),
        ("bytes=-100", 10140, 10239),
        ("bytes=10000-99999", 10000, 10239),
    ],
)
def test_a_range_is_answered_with_206_and_only_those_bytes(world, clip_a, asked, first, last):
    response = get(world.reviewer, f"/clips/{clip_a.id}/play/", Range=asked)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes {first}-{last}/10240"
    assert response["Accept-Ranges"] == "bytes"
    assert response["Content-Length"] == str(last - first + 1)
    assert response["Content-Type"] == "video/mp4"
    assert body(response) == PREVIEW[first : last + 1]


def test_no_range_answers_the_whole_file_and_says_ranges_are_accepted(world, clip_a):
    response = get(world.reviewer, f"/clips/{clip_a.id}/play/")
    assert response.status_code == 200 and response["Accept-Ranges"] == "bytes"
    assert body(response) == PREVIEW
    head = Client()
    head.force_login(world.reviewer)
    response = head.head(f"/clips/{clip_a.id}/play/", headers={"Range": "bytes=0-9"})
    assert response.status_code == 206 and response["Content-Length"] == "10" and response.content == b""


@pytest.mark.parametrize(
    "asked", ["bytes=10240-", "bytes=20000-30000", "bytes=50-10", "bytes=-0", "bytes=abc", "bytes=-"]
)
def test_a_range_outside_the_file_or_malformed_is_416_in_the_error_shape(world, clip_a, asked):
    response = get(world.reviewer, f"/clips/{clip_a.id}/play/", Range=asked)
    assert response.status_code == 416
    assert response["Content-Range"] == "bytes */10240"
    assert response.json()["error"]["code"] == "range_not_satisfiable"


def test_other_units_and_several_ranges_get_the_whole_file():
    assert media.parse_range("items=0-5", 100) is None
    assert media.parse_range("bytes=0-5,10-20", 100) is None
    assert media.parse_range("", 100) is None
    with pytest.raises(media.RangeNotSatisfiable):
        media.parse_range("bytes=0-5", 0)  # an empty file has no byte 0


@pytest.mark.parametrize("path", ["play/", "video/"])
def test_the_media_follow_the_clips_permissions(world, clip_a, path):
    url = f"/clips/{clip_a.id}/{path}"
    assert get(None, url).status_code == 302
    assert get(world.customer_a, url, Range="bytes=0-9").status_code == 206
    assert get(world.customer_b, url, Range="bytes=0-9").status_code == 404  # not theirs: as if absent
    assert get(world.ingest, url).status_code == 403
    assert get(world.operator, url, Range="bytes=0-9").status_code == 206


def test_the_page_plays_the_preview_and_the_original_stays_downloadable(world, clip_a, settings):
    original = (Path(settings.MEDIA_ROOT) / clip_a.file.name).read_bytes()
    assert body(get(world.customer_a, f"/clips/{clip_a.id}/play/")) == PREVIEW
    response = get(world.customer_a, f"/clips/{clip_a.id}/video/")
    assert body(response) == original
    assert response["Content-Disposition"].startswith('attachment; filename="acme-door-')
    clip_a.preview.name = ""  # no preview (an H.264 upload): the original plays
    clip_a.save()
    assert body(get(world.customer_a, f"/clips/{clip_a.id}/play/")) == original
    page = get(world.customer_a, f"/alerts/{clip_a.id}/").content.decode()
    assert f'src="/clips/{clip_a.id}/play/"' in page and f'href="/clips/{clip_a.id}/video/" download' in page


def test_a_missing_preview_file_is_404_not_500(world, clip_a, settings):
    (Path(settings.MEDIA_ROOT) / clip_a.preview.name).unlink()
    assert get(world.reviewer, f"/clips/{clip_a.id}/play/", Range="bytes=0-1").status_code == 404


def test_on_s3_the_preview_is_written_there_and_played_through_a_presigned_url(world, tmp_path, s3_storage):  # noqa: F811
    s3, bucket = s3_storage
    path = write_clip(tmp_path / "a.mp4", photo("astronaut"), seconds=2, fps=5)
    clip, _ = ingest.clip_ingest(camera=world.cam_a, path=str(path), recorded_at=timezone.now())
    processing.clip_process(clip_id=clip.id)
    preview.clip_preview_make(clip_id=clip.id)  # what the worker's next task does
    clip.refresh_from_db()
    assert clip.preview.name == preview_storage_name(clip.file.name)
    head = s3.head_object(Bucket=bucket, Key=clip.preview.name)
    assert head["ContentType"] == "video/mp4" and head["ContentLength"] > 0

    response = get(world.customer_a, f"/clips/{clip.id}/play/")
    assert response.status_code == 302
    location = response["Location"]
    assert clip.preview.name in location and "Signature" in location and "Expires" in location
    original = get(world.customer_a, f"/clips/{clip.id}/video/")["Location"]
    assert clip.file.name in original and "response-content-disposition=attachment" in original
    assert get(world.customer_b, f"/clips/{clip.id}/play/").status_code == 404


# ------------------------------------------------------------------------- the deciding box


def detections(clip, rows):
    return Detection.objects.bulk_create(
        [
            Detection(clip=clip, frame_index=i, frame_time=i / 10, x1=x, y1=100, x2=x + 64, y2=340, score=s, **extra)
            for i, x, s, extra in rows
        ]
    )


def test_the_player_gets_the_box_that_decided_the_clip(world, clip_a):
    from reviewapp.tuning.models import SuppressionRule

    rule = SuppressionRule.objects.create(
        camera=world.cam_a,
        x1=0,
        y1=0,
        x2=1,
        y2=1,
        descriptor=b"",
        descriptor_version=1,
        iou_min=0.5,
        similarity_min=0.9,
        source_score=0.9,
    )
    detections(clip_a, [(2, 10, 0.4, {}), (5, 320, 0.6, {}), (7, 100, 0.9, {"suppressed_by": rule})])
    overlay = media.player_overlay(clip_a, list(clip_a.detections.all()))
    # The suppressed 0.9 did not decide: the 0.6 at 0.5 s did.
    assert overlay["time"] == 0.5 and overlay["frame"] == 5 and "score" not in overlay
    assert overlay["left"] == 320 / 640 and overlay["top"] == 100 / 480
    assert overlay["width"] == 64 / 640 and overlay["height"] == 240 / 480

    page = get(world.reviewer, f"/clips/{clip_a.id}/").content.decode()
    assert '<script id="decided-data" type="application/json">{"time": 0.5, "frame": 5' in page
    assert 'id="decided-box"' in page


def test_a_clip_without_a_person_box_has_no_overlay(world, clip_a):
    assert media.player_overlay(clip_a, []) is None
    assert (
        '<script id="decided-data" type="application/json">null</script>'
        in get(world.reviewer, f"/clips/{clip_a.id}/").content.decode()
    )


def red_pixels(jpeg: bytes) -> int:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    b, g, r = image[..., 0].astype(int), image[..., 1].astype(int), image[..., 2].astype(int)
    return int(((r > 180) & (g < 60) & (b < 60)).sum())


def test_the_strip_draws_the_deciding_box_strong_and_the_rest_only_from_the_floor_faint():
    frame = np.full((240, 320, 3), 90, np.uint8)
    plain = draw_boxes(frame, [], threshold=0.5, floor=0.35)
    weak = [Box(10 + 12 * i, 10, 40 + 12 * i, 80, 0.05 + 0.01 * i, "person") for i in range(20)]
    assert draw_boxes(frame, weak, threshold=0.5, floor=0.35) == plain  # all below the floor: none drawn
    above = [Box(20, 20, 120, 200, 0.45, "person")]
    assert draw_boxes(frame, above, threshold=0.5, floor=0.35) != plain
    decided = Box(150, 20, 300, 220, 0.7, "person")
    strong = red_pixels(draw_boxes(frame, [], threshold=0.5, floor=0.35, decided=decided))
    faint = red_pixels(draw_boxes(frame, [decided], threshold=0.5, floor=0.35))
    assert strong > 300 and faint == 0  # only the deciding box is drawn in full red


def test_the_frame_view_marks_the_deciding_box_and_hides_scores_from_customers(world, clip_a):
    detections(clip_a, [(0, 100, 0.8, {})])
    reviewer = get(world.reviewer, f"/clips/{clip_a.id}/frames/0.jpg")
    customer = get(world.customer_a, f"/clips/{clip_a.id}/frames/0.jpg")
    assert reviewer.status_code == customer.status_code == 200
    assert red_pixels(reviewer.content) > 300
    assert red_pixels(customer.content) < red_pixels(reviewer.content)  # the same box, without its label


@pytest.mark.django_db(transaction=True)
def test_a_preview_written_to_the_clip_bucket_makes_no_clip_of_its_own(world, tmp_path, bucket):
    # The bucket notifies the clip-event consumer of every new object under clips/, the preview too.
    from tests.reviewapp.test_events import consume

    bucket.drain_test_event()
    path = write_clip(tmp_path / "a.mp4", photo("astronaut"), seconds=2, fps=5)
    clip, _ = ingest.clip_ingest(camera=world.cam_a, path=str(path), recorded_at=timezone.now())
    processing.clip_process(clip_id=clip.id)
    preview.clip_preview_make(clip_id=clip.id)
    clip.refresh_from_db()
    head = bucket.s3.head_object(Bucket=bucket.name, Key=clip.preview.name)
    assert head["Metadata"] == {"vigia-origin": "app"} and head["ContentType"] == "video/mp4"
    consume(bucket, polls=2)
    assert list(Clip.objects.values_list("id", flat=True)) == [clip.id]

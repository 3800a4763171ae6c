"""The Label Studio webhook: secret, payload checks, reviews from annotations, duplicates."""

import pytest

from labeling.models import InboundAnnotation
from labeling.sync import label_studio as ls
from reviewapp.review.models import Review, ReviewItem
from tests.labeling.helpers import processed_clip

URL = "/labeling/label-studio/webhook/"
SECRET = "hook-secret"


@pytest.fixture
def item(world, settings):
    settings.LABEL_STUDIO_WEBHOOK_SECRET = SECRET
    settings.LABEL_STUDIO_URL = ""  # no user look-ups: payloads here carry the annotator
    return processed_clip(world.cam_a).review_item


def post(client, body, secret=SECRET):
    import json

    return client.post(
        URL,
        data=json.dumps(body) if not isinstance(body, str) else body,
        content_type="application/json",
        HTTP_X_VIGIA_WEBHOOK_SECRET=secret,
    )


def created(
    item,
    *,
    annotation_id=11,
    verdict="no_person",
    tags=("dog",),
    updated_at="2026-11-26T10:00:00Z",
    action="ANNOTATION_CREATED",
    completed_by=None,
    unique_id="0b7f0c6e-aaaa-4bbb-8ccc-000000000000",
):
    return {
        "action": action,
        "annotation": {
            "id": annotation_id,
            "unique_id": unique_id,
            "updated_at": updated_at,
            "was_cancelled": False,
            "completed_by": completed_by if completed_by is not None else {"email": "Rita@Example.com"},
            "result": ls.annotation_result(verdict=verdict, tags=list(tags), note="from LS"),
        },
        "task": {"id": 5, "data": {"vigia_item": item.id}},
        "project": {"id": 1},
    }


@pytest.mark.django_db
def test_it_refuses_a_missing_or_wrong_secret(client, item):
    assert post(client, created(item), secret="").status_code == 403
    response = post(client, created(item), secret="nope")
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert not Review.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[" * 5000,  # nested too deeply: json raises RecursionError
        [],
        {"no": "action"},
        {"action": "ANNOTATION_CREATED"},
        {"action": "ANNOTATION_CREATED", "annotation": {"id": "x"}, "task": {"data": {}}},
        {"action": "ANNOTATION_UPDATED", "annotation": {"id": 1, "result": []}, "task": {"data": {}}},
        {
            "action": "ANNOTATION_CREATED",
            "annotation": {"id": 1, "result": []},
            "task": {"data": {"vigia_item": 999999}},
        },
        {"action": "ANNOTATIONS_DELETED", "annotations": "all"},
    ],
)
def test_it_answers_400_with_the_api_error_shape_to_a_malformed_payload(client, item, body):
    response = post(client, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_payload" and error["message"]
    assert not Review.objects.exists()


@pytest.mark.django_db
def test_an_annotation_becomes_a_review_from_label_studio_by_the_matching_user(client, world, item):
    world.reviewer.email = "rita@example.com"
    world.reviewer.save()
    response = post(client, created(item))
    assert response.status_code == 200 and response.json() == {"status": "recorded"}
    review = Review.objects.get()
    assert review.source == Review.Source.LABEL_STUDIO and review.verdict == "no_person"
    assert [t.slug for t in review.tags.all()] == ["dog"] and review.note == "from LS"
    assert review.reviewer == world.reviewer
    assert ReviewItem.objects.get(id=item.id).state == ReviewItem.State.DONE


@pytest.mark.django_db
def test_a_duplicate_delivery_records_nothing_twice(client, item):
    assert post(client, created(item)).json()["status"] == "recorded"
    assert post(client, created(item)).json()["status"] == "duplicate"
    assert Review.objects.count() == 1


@pytest.mark.django_db
def test_an_update_adds_a_decision_and_the_latest_wins(client, world, item):
    post(client, created(item, verdict="no_person"))
    post(
        client, created(item, verdict="person", tags=(), action="ANNOTATION_UPDATED", updated_at="2026-11-26T10:05:00Z")
    )
    assert Review.objects.count() == 2
    assert item.clip.reviews.first().verdict == "person"  # the history keeps both


@pytest.mark.django_db
def test_an_unknown_annotator_becomes_the_label_studio_service_user(client, item):
    post(client, created(item, completed_by={"email": "stranger@elsewhere.test", "username": "stranger"}))
    assert Review.objects.get().reviewer.username == "label-studio"


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["operator", "customer_a", "ingest"])
def test_an_annotator_named_like_a_user_who_is_not_a_reviewer_becomes_the_service_user(client, world, item, who):
    user = getattr(world, who)
    user.email = "boss@example.com"
    user.save()
    for completed_by in ({"email": "boss@example.com"}, {"username": user.username}):
        Review.objects.all().delete()
        InboundAnnotation.objects.all().delete()
        post(client, created(item, completed_by=completed_by))
        assert Review.objects.get().reviewer.username == "label-studio", completed_by


@pytest.mark.django_db
def test_the_echo_of_a_vigia_decision_is_ignored(client, item):
    response = post(client, created(item, unique_id=ls.review_unique_id(42)))
    assert response.json() == {"status": "own"} and not Review.objects.exists()


@pytest.mark.django_db
def test_a_deleted_annotation_that_was_the_verdict_reopens_the_item(client, item):
    post(client, created(item, annotation_id=77))
    body = {"action": "ANNOTATIONS_DELETED", "annotations": [{"id": 77}], "project": {"id": 1}}
    assert post(client, body).json()["status"] == "deleted (1 reopened)"
    assert ReviewItem.objects.get(id=item.id).state == ReviewItem.State.OPEN
    assert post(client, body).json()["status"] == "deleted (0 reopened)"  # duplicate delivery
    assert Review.objects.count() == 1  # the history is kept


@pytest.mark.django_db
def test_other_actions_and_cancelled_annotations_are_ignored(client, item):
    assert post(client, {"action": "PROJECT_UPDATED"}).json() == {"status": "ignored"}
    body = created(item)
    body["annotation"]["was_cancelled"] = True
    assert post(client, body).json() == {"status": "skipped"}
    assert not Review.objects.exists()


@pytest.mark.django_db
def test_signed_media_urls_expire_and_cannot_be_forged(client, world, settings):
    from labeling.sync import senders

    settings.VIGIA_PUBLIC_URL = "http://vigia.test"
    clip = processed_clip(world.cam_a)
    path = senders.media_url(clip.id).removeprefix("http://vigia.test")
    assert client.get(path + "x/").status_code == 404
    assert client.get(path[:-5] + "AAAA/").status_code == 404
    settings.LABELING_MEDIA_URL_SECONDS = -1
    assert client.get(path).status_code == 410


@pytest.mark.django_db
def test_label_studio_tasks_play_the_preview_with_ranges(client, world, settings):
    from pathlib import Path

    from labeling.sync import senders
    from reviewapp.core.storage import preview_storage_name

    settings.VIGIA_PUBLIC_URL = "http://vigia.test"
    clip = processed_clip(world.cam_a)
    media = Path(settings.MEDIA_ROOT)
    (media / clip.file.name).parent.mkdir(parents=True, exist_ok=True)
    (media / clip.file.name).write_bytes(b"original-mp4v")
    clip.preview.name = preview_storage_name(clip.file.name)
    (media / clip.preview.name).write_bytes(b"preview-h264")
    clip.save()
    task = senders.task_payload(ReviewItem.objects.get(clip=clip), list(clip.detections.all()))
    path = task["data"]["video"].removeprefix("http://vigia.test")
    response = client.get(path, headers={"Range": "bytes=0-6"})
    assert response.status_code == 206 and b"".join(response.streaming_content) == b"preview"
    assert response["Content-Range"] == "bytes 0-6/12"
    original = senders.media_url(clip.id).removeprefix("http://vigia.test")  # the evidence, as before
    assert b"".join(client.get(original).streaming_content) == b"original-mp4v"
    (media / clip.preview.name).unlink()
    assert client.get(path).json()["error"]["code"] == "not_found"

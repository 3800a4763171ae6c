"""Against a real Label Studio 1.23.2 server: tasks with predictions, Vigia decisions as
annotations, annotations made in Label Studio coming back through its webhook to a live Vigia."""

import time

import httpx
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from labeling.models import SyncState
from labeling.sync import discovery, senders, state
from labeling.sync import engine as sync
from labeling.sync import label_studio as ls
from reviewapp.review.models import Review, ReviewItem, Tag
from reviewapp.review.queue import review_record
from tests.factories import CameraFactory, CustomerFactory, make_user
from tests.labeling.helpers import processed_clip
from tests.labeling.servers import LS_USER
from tests.videos import write_video

D = SyncState.Destination
S = SyncState.Status
TAGS = [("dog", "Dog", "1"), ("insect", "Insect", "3"), ("car", "Car", "4")]

pytestmark = [pytest.mark.label_studio, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def setup(settings, label_studio, live_server, tmp_path):
    """Our project and webhook on the real server; the webhook points at a live Vigia."""
    for slug, name, key in TAGS:  # a transactional test starts without the seeded rows
        Tag.objects.get_or_create(slug=slug, defaults={"name": name, "key": key})
    settings.VIGIA_PUBLIC_URL = live_server.url
    call_command("label_studio_setup")
    camera = CameraFactory(customer=CustomerFactory(name="Acme"), name="acme-door")
    return camera


def clip_with_video(camera, tmp_path, **kwargs):
    path = write_video(tmp_path / "v.mp4", frames=20, size=(320, 240))
    name = default_storage.save(f"clips/{camera.name}/t/v.mp4", ContentFile(path.read_bytes()))
    return processed_clip(camera, file=name, width=320, height=240, **kwargs)


def project_tasks() -> list:
    return list(ls._client().tasks.list(project=ls.project_id(), fields="all"))


def wait_for(check, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    return check()


def test_a_review_item_becomes_a_task_with_the_key_frame_and_the_detector_boxes(setup, tmp_path):
    clip = clip_with_video(setup, tmp_path, score=0.55)
    assert sync.sync_all() == {D.LS_TASK: 1, D.LS_ANNOTATION: 0}
    row = SyncState.objects.get(destination=D.LS_TASK)
    assert row.status == S.DONE and row.remote_id
    task = ls.task_get(int(row.remote_id))
    assert task["data"]["vigia_item"] == clip.review_item.id and task["data"]["frame_index"] == 5
    (prediction,) = task["predictions"]
    assert prediction["model_version"] == "hog-test" and prediction["score"] == pytest.approx(0.55)
    boxes = [r for r in prediction["result"] if r["type"] == "rectanglelabels"]
    assert len(boxes) == 2 and max(b["score"] for b in boxes) == pytest.approx(0.55)
    assert boxes[0]["value"]["x"] == pytest.approx(20.0) and boxes[0]["value"]["rectanglelabels"] == ["person"]
    # Label Studio can fetch the media by their signed URLs, without a session.
    frame = httpx.get(task["data"]["frame"], timeout=10)
    assert frame.status_code == 200 and frame.headers["content-type"] == "image/jpeg"
    assert httpx.get(task["data"]["video"], timeout=10).status_code == 200
    assert sync.sync_all()[D.LS_TASK] == 0 and len(project_tasks()) == 1  # never twice


def test_round_trip_both_ways_through_the_real_webhook(setup, tmp_path, world_users):
    clip = clip_with_video(setup, tmp_path)
    sync.sync_all()
    task_id = int(SyncState.objects.get(destination=D.LS_TASK).remote_id)

    # Vigia -> Label Studio: a decision becomes an annotation; its webhook echo is ignored.
    review_record(item=clip.review_item, reviewer=world_users["rita"], verdict="no_person", tags=["dog"], note="a dog")
    assert sync.sync_all()[D.LS_ANNOTATION] == 1
    (annotation,) = ls.annotations_of(task_id)
    assert ls.parse_result(annotation["result"]) == ("no_person", ["dog"], "a dog")
    assert Review.objects.count() == 1

    # Label Studio -> Vigia: an annotator's annotation arrives through the webhook.
    human = ls._client().annotations.create(
        task_id, result=ls.annotation_result(verdict="person", tags=[]), was_cancelled=False
    )
    review = wait_for(lambda: Review.objects.filter(source=Review.Source.LABEL_STUDIO).first())
    assert review is not None, "the webhook did not arrive"
    assert review.verdict == "person" and review.reviewer == world_users["annotator"]
    assert clip.reviews.first().verdict == "person"  # the latest wins; the history keeps both

    ls._client().annotations.update(human.id, result=ls.annotation_result(verdict="no_person", tags=["car", "insect"]))
    assert wait_for(lambda: Review.objects.filter(source=Review.Source.LABEL_STUDIO).count() == 2)
    latest = clip.reviews.first()
    assert latest.verdict == "no_person" and sorted(t.slug for t in latest.tags.all()) == ["car", "insect"]

    ls._client().annotations.delete(human.id)
    assert wait_for(lambda: ReviewItem.objects.get(id=clip.review_item.id).state == ReviewItem.State.OPEN)
    # Nothing more goes back out: the LS reviews are not sent to LS again.
    assert sync.sync_all()[D.LS_ANNOTATION] == 0


def test_label_studio_down_then_back_everything_pending_arrives_once(setup, tmp_path, settings, world_users):
    up = settings.LABEL_STUDIO_URL
    clips = [processed_clip(setup, score=0.5 + i / 100) for i in range(3)]
    settings.LABEL_STUDIO_URL = f"http://127.0.0.1:{_closed_port()}"
    ls.reset()
    sync.sync_all()
    review_record(item=clips[0].review_item, reviewer=world_users["rita"], verdict="person", tags=[])  # saved anyway
    rows = list(SyncState.objects.all())
    assert [r.status for r in rows] == [S.PENDING] * 3 and all(r.last_error for r in rows)

    settings.LABEL_STUDIO_URL = up
    ls.reset()
    SyncState.objects.update(next_attempt_at=timezone.now())  # an hour later, say
    assert sync.sync_all() == {D.LS_TASK: 3, D.LS_ANNOTATION: 1}
    assert len(project_tasks()) == 3
    assert sync.sync_all() == {D.LS_TASK: 0, D.LS_ANNOTATION: 0}


def test_a_batch_that_reached_label_studio_before_its_worker_died_is_not_imported_twice(setup, world_users):
    clips = [processed_clip(setup) for _ in range(3)]
    discovery.discover(D.LS_TASK)
    _token, rows = state.claim(D.LS_TASK, limit=10)
    items = {i.id: i for i in ReviewItem.objects.select_related("clip", "clip__camera")}
    # The worker's import went through, then the worker was killed before saving the ids.
    ids = ls.tasks_import(project=ls.project_id(), tasks=[senders.task_payload(items[r.item_id], []) for r in rows[:2]])
    SyncState.objects.update(leased_until=timezone.now())
    assert sync.sync_all()[D.LS_TASK] == 3
    assert len(project_tasks()) == 3
    assert sorted(
        int(r)
        for r in SyncState.objects.filter(item__in=[c.review_item for c in clips[:2]]).values_list(
            "remote_id", flat=True
        )
    ) == sorted(ids)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def world_users():
    return {
        "rita": make_user("rita", "reviewer"),
        "annotator": _with_email(make_user("ann", "reviewer"), LS_USER),
    }


def _with_email(user, email):
    user.email = email
    user.save()
    return user


def test_a_tag_added_in_vigia_reaches_the_project_at_the_next_tick(setup):
    def choices():
        return ls._client().projects.get(id=ls.project_id()).label_config

    assert 'value="bird"' not in choices()
    Tag.objects.create(slug="bird", name="Bird", key="9")
    sync.sync_all(budget_seconds=5)
    assert 'value="bird"' in choices() and 'hint="Bird"' in choices()
    assert not ls.config_ensure(
        project=ls.project_id(), config=senders.labelling_config()
    )  # no request: nothing changed

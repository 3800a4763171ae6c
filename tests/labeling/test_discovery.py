"""DynamoDB discovery looks only at what changed since its cursor (less a margin), and falls back
to the full anti-join when it has no cursor or too much changed. Discovery only: nothing is sent."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.models import SyncCursor, SyncState
from labeling.sync import discovery
from reviewapp.review.models import Clip, FalseAlertReport, Review, ReviewItem
from reviewapp.review.queue import review_record
from tests.labeling.helpers import processed_clip

D = SyncState.Destination
pytestmark = pytest.mark.django_db


def queued() -> set:
    return set(SyncState.objects.filter(destination=D.DYNAMODB).values_list("clip_id", flat=True))


def cursor():
    return SyncCursor.objects.get(destination=D.DYNAMODB).discovered_until


def test_the_first_tick_looks_at_every_clip_and_sets_the_cursor(world):
    old = processed_clip(world.cam_a)
    Clip.objects.filter(id=old.id).update(finished_at=timezone.now() - timedelta(days=30))
    new = processed_clip(world.cam_a)
    assert discovery.discover(D.DYNAMODB) == 2
    assert queued() == {old.id, new.id}
    assert cursor() == Clip.objects.get(id=new.id).finished_at


def test_later_ticks_find_new_clips_reviews_and_reports_on_old_clips(world):
    old = processed_clip(world.cam_a)
    reported = processed_clip(world.cam_b)
    Clip.objects.filter(id__in=[old.id, reported.id]).update(finished_at=timezone.now() - timedelta(days=30))
    assert discovery.discover(D.DYNAMODB) == 2
    assert discovery.discover(D.DYNAMODB) == 0  # nothing changed

    new = processed_clip(world.cam_a)
    review_record(item=old.review_item, reviewer=world.reviewer, verdict="no_person", tags=["dog"])
    FalseAlertReport.objects.create(clip=reported, reported_by=world.customer_a)
    assert discovery.discover(D.DYNAMODB) == 3
    versions = dict(SyncState.objects.filter(destination=D.DYNAMODB).values_list("clip_id", "version"))
    assert versions[old.id] == old.reviews.get().created_at  # the new version: the review
    assert new.id in versions


def test_a_change_that_commits_late_is_found_within_the_margin_and_not_beyond(world, settings):
    settings.SYNC_DISCOVERY_MARGIN_SECONDS = 600
    processed_clip(world.cam_a)
    discovery.discover(D.DYNAMODB)
    late = processed_clip(world.cam_a)  # finished 5 minutes before the cursor, committed only now
    Clip.objects.filter(id=late.id).update(finished_at=cursor() - timedelta(minutes=5))
    too_late = processed_clip(world.cam_b)
    Clip.objects.filter(id=too_late.id).update(finished_at=cursor() - timedelta(minutes=20))
    assert discovery.discover(D.DYNAMODB) == 1
    assert late.id in queued() and too_late.id not in queued()
    # What the window cannot see, a full look (no cursor) still finds: the price of the margin.
    SyncCursor.objects.all().delete()
    SyncState.objects.all().delete()
    assert discovery.discover(D.DYNAMODB) == 3


def test_more_changes_than_a_tick_takes_fall_back_to_the_full_look_oldest_first(world):
    processed_clip(world.cam_a)
    discovery.discover(D.DYNAMODB)
    start = timezone.now() + timedelta(seconds=1)
    clips = [processed_clip(world.cam_a) for _ in range(5)]
    for i, clip in enumerate(clips):
        Clip.objects.filter(id=clip.id).update(finished_at=start + timedelta(seconds=i))
    assert discovery.discover(D.DYNAMODB, limit=2) == 2
    assert {c.id for c in clips[:2]} <= queued()  # the oldest two
    assert discovery.discover(D.DYNAMODB, limit=2) == 2
    assert discovery.discover(D.DYNAMODB, limit=2) == 1
    assert {c.id for c in clips} <= queued()
    assert discovery.discover(D.DYNAMODB, limit=2) == 0


def test_the_cursor_only_moves_forward(world):
    processed_clip(world.cam_a)
    discovery.discover(D.DYNAMODB)
    ahead = cursor() + timedelta(hours=1)
    SyncCursor.objects.update(discovered_until=ahead)  # as a concurrent, newer tick left it
    clip = processed_clip(world.cam_b)
    Clip.objects.filter(id=clip.id).update(finished_at=ahead - timedelta(minutes=1))
    assert discovery.discover(D.DYNAMODB) == 1
    assert cursor() == ahead


# ------------------------------------------------------------- Label Studio: the same windows (#13)
def _send_tasks() -> None:
    """What a sync tick does for the tasks it claims, without Label Studio: they are done."""
    from labeling.sync import state

    token, rows = state.claim(D.LS_TASK, limit=100)
    for row in rows:
        state.mark_done(row, token, sent_version=row.version, remote_id=str(row.item_id))


def test_label_studio_tasks_look_only_at_items_since_their_cursor(world, settings):
    settings.SYNC_DISCOVERY_MARGIN_SECONDS = 600
    first = processed_clip(world.cam_a)
    assert discovery.discover(D.LS_TASK) == 1  # no cursor: every item, once
    tasks_cursor = SyncCursor.objects.get(destination=D.LS_TASK).discovered_until
    assert tasks_cursor == first.review_item.created_at
    forgotten = processed_clip(world.cam_b)  # an item from before the window, with no row
    ReviewItem.objects.filter(clip=forgotten).update(created_at=tasks_cursor - timedelta(hours=1))
    Clip.objects.filter(id=forgotten.id).update(finished_at=tasks_cursor - timedelta(hours=1))
    new = processed_clip(world.cam_a)
    assert discovery.discover(D.LS_TASK) == 1
    items = set(SyncState.objects.filter(destination=D.LS_TASK).values_list("item_id", flat=True))
    assert items == {first.review_item.id, new.review_item.id}  # the window did not read the old one
    # Its clip processed again (finished now): in the window again.
    Clip.objects.filter(id=forgotten.id).update(finished_at=timezone.now())
    assert discovery.discover(D.LS_TASK) == 1


def test_an_annotation_waits_for_its_task_and_is_found_when_the_task_is_done(world):
    clip = processed_clip(world.cam_a)
    review_record(item=clip.review_item, reviewer=world.reviewer, verdict="no_person", tags=[])
    assert discovery.discover(D.LS_ANNOTATION) == 0  # no task yet
    assert discovery.discover(D.LS_TASK) == 1
    _send_tasks()
    assert discovery.discover(D.LS_ANNOTATION) == 1
    assert discovery.discover(D.LS_ANNOTATION) == 0

    # A decision made long before its task is done (Label Studio was down): the task becoming
    # done brings it into the annotations' window.
    later = processed_clip(world.cam_b)
    review = review_record(item=later.review_item, reviewer=world.reviewer, verdict="person", tags=[])
    annotations_cursor = SyncCursor.objects.get(destination=D.LS_ANNOTATION).discovered_until
    Review.objects.filter(id=review.id).update(created_at=annotations_cursor - timedelta(days=1))
    assert discovery.discover(D.LS_ANNOTATION) == 0
    assert discovery.discover(D.LS_TASK) == 1
    task = SyncState.objects.filter(destination=D.LS_TASK, item=later.review_item)
    task.update(updated_at=annotations_cursor - timedelta(days=1))  # its row waited a day for Label Studio
    assert discovery.discover(D.LS_ANNOTATION) == 0
    _send_tasks()
    assert discovery.discover(D.LS_ANNOTATION) == 1
    assert SyncState.objects.filter(destination=D.LS_ANNOTATION, review_id=review.id).exists()

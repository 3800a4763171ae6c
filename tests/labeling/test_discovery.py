"""DynamoDB discovery looks only at what changed since its cursor (less a margin), and falls back
to the full anti-join when it has no cursor or too much changed. Discovery only: nothing is sent."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.models import SyncCursor, SyncState
from labeling.sync import discovery
from reviewapp.review.models import Clip, FalseAlertReport
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

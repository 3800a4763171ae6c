"""DynamoDB over HTTP (moto's server): items, indexes, batches, throttling, outages, order."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.models import SyncState
from labeling.sync import discovery, dynamo, senders, state
from labeling.sync import engine as sync
from reviewapp.core import aws
from reviewapp.review.models import FalseAlertReport, Review
from reviewapp.review.queue import review_record
from tests.labeling.helpers import processed_clip

D = SyncState.Destination
S = SyncState.Status


def run_dynamo():
    return sync.sync_destination(D.DYNAMODB)


def statuses():
    return sorted(SyncState.objects.filter(destination=D.DYNAMODB).values_list("status", flat=True))


class Flaky:
    """The boto3 client, wrapped at the module edge: the first `unprocessed` BatchWriteItem
    answers hand back their last items as UnprocessedItems, as a throttled table does."""

    def __init__(self, client, *, unprocessed=1, keep=3):
        self.client, self.unprocessed, self.keep = client, unprocessed, keep
        self.batch_calls, self.put_calls = [], 0

    def batch_write_item(self, RequestItems):
        ((table, requests),) = RequestItems.items()
        self.batch_calls.append(len(requests))
        if self.unprocessed:
            self.unprocessed -= 1
            done, left = requests[: -self.keep], requests[-self.keep :]
            if done:
                self.client.batch_write_item(RequestItems={table: done})
            return {"UnprocessedItems": {table: left}}
        return self.client.batch_write_item(RequestItems=RequestItems)

    def put_item(self, **kwargs):
        self.put_calls += 1
        return self.client.put_item(**kwargs)

    def __getattr__(self, name):
        return getattr(self.client, name)


@pytest.fixture
def flaky(dynamo_table, monkeypatch):
    real = dynamo._client()
    wrapper = Flaky(real)
    monkeypatch.setattr(dynamo, "_client", lambda: wrapper)
    return wrapper


@pytest.mark.django_db
def test_it_writes_a_processed_clip_and_finds_it_by_camera_and_by_score_band(world, dynamo_table):
    recorded = timezone.now().replace(hour=10, minute=0, second=0, microsecond=0)
    near = processed_clip(world.cam_a, score=0.55, recorded_at=recorded)
    far = processed_clip(world.cam_a, score=0.95, recorded_at=recorded + timedelta(minutes=1), item=False)
    other = processed_clip(world.cam_b, score=0.45, recorded_at=recorded)

    assert run_dynamo() == 3
    assert statuses() == [S.DONE] * 3
    item = dynamo.get(str(near.id))
    assert item["camera"] == "acme-door" and item["customer"] == "Acme" and item["score"] == pytest.approx(0.55)
    assert item["alert"] is True and item["model_version"] == "hog-test" and item["report_count"] == 0
    assert item["object_key"] == near.file.name and item["processing_ms"] == pytest.approx(2000, abs=5)
    assert "verdict" not in item and item["tags"] == []

    day = recorded.strftime("%Y-%m-%d")
    band = dynamo.clips_in_score_band(day=day, low=0.4, high=0.6)
    assert {i["clip_id"] for i in band} == {str(near.id), str(other.id)}
    cam = dynamo.clips_of_camera(
        camera="acme-door", since=recorded.isoformat(), until=(recorded + timedelta(hours=1)).isoformat()
    )
    assert [i["clip_id"] for i in cam] == [str(near.id), str(far.id)]
    assert run_dynamo() == 0  # nothing sent twice


@pytest.mark.django_db
def test_it_updates_the_item_after_every_review_change(world, dynamo_table):
    clip = processed_clip(world.cam_a)
    run_dynamo()
    review_record(item=clip.review_item, reviewer=world.reviewer, verdict="no_person", tags=["dog", "light-shadow"])
    FalseAlertReport.objects.create(clip=clip, reported_by=world.customer_a)
    assert discovery.discover(D.DYNAMODB) == 1
    run_dynamo()
    item = dynamo.get(str(clip.id))
    assert item["verdict"] == "no_person" and item["tags"] == ["dog", "light-shadow"] and item["reviewer"] == "rita"
    assert item["report_count"] == 1 and item["reviewed_at"]

    review_record(item=clip.review_item, reviewer=world.reviewer2, verdict="person", tags=[])
    run_dynamo()
    item = dynamo.get(str(clip.id))
    assert item["verdict"] == "person" and item["tags"] == [] and item["reviewer"] == "rob"
    assert statuses() == [S.DONE]


@pytest.mark.django_db
def test_it_writes_in_batches_of_25_and_retries_unprocessed_items(world, flaky):
    clips = [processed_clip(world.cam_a, item=False) for _ in range(30)]
    assert run_dynamo() == 30
    # 25 + 5, and the throttled last 3 items of the first batch sent again.
    assert flaky.batch_calls == [25, 3, 5]
    assert statuses() == [S.DONE] * 30
    assert all(dynamo.get(str(c.id)) for c in clips)


@pytest.mark.django_db
def test_items_still_throttled_after_the_retries_stay_pending_with_a_backoff(world, flaky, monkeypatch):
    flaky.unprocessed = 1000
    real_batch_put = dynamo.batch_put
    monkeypatch.setattr(dynamo, "batch_put", lambda items: real_batch_put(items, max_rounds=2, base_delay=0))
    processed_clip(world.cam_a, item=False)
    processed_clip(world.cam_a, item=False)
    run_dynamo()
    rows = list(SyncState.objects.all())
    assert [r.status for r in rows] == [S.PENDING, S.PENDING]
    assert all("UnprocessedItems" in r.last_error and r.next_attempt_at > timezone.now() for r in rows)
    flaky.unprocessed = 0
    SyncState.objects.update(next_attempt_at=timezone.now())
    run_dynamo()
    assert statuses() == [S.DONE, S.DONE]


@pytest.mark.django_db
def test_an_outage_loses_nothing_and_everything_arrives_once_when_it_is_back(
    world, settings, dynamo_table, aws_endpoint, monkeypatch
):
    clip = processed_clip(world.cam_a)
    settings.AWS_DYNAMODB_ENDPOINT_URL = f"http://127.0.0.1:{_closed_port()}"
    aws.reset()
    # Reviews are saved while the destination is down: the decision never waits for it.
    review_record(item=clip.review_item, reviewer=world.reviewer, verdict="no_person", tags=["insect"])
    others = [processed_clip(world.cam_b, item=False) for _ in range(3)]
    for _ in range(3):  # beat ticks during the outage
        SyncState.objects.update(next_attempt_at=timezone.now())
        run_dynamo()
    rows = list(SyncState.objects.all())
    assert {r.status for r in rows} == {S.PENDING} and all(r.attempts == 3 for r in rows)
    assert all(r.last_error for r in rows)
    assert Review.objects.filter(clip=clip).count() == 1

    settings.AWS_DYNAMODB_ENDPOINT_URL = aws_endpoint
    aws.reset()
    real = dynamo._client()
    counting = Flaky(real, unprocessed=0)
    monkeypatch.setattr(dynamo, "_client", lambda: counting)
    SyncState.objects.update(next_attempt_at=timezone.now())
    assert run_dynamo() == 4
    assert run_dynamo() == 0
    assert sum(counting.batch_calls) == 4 and counting.put_calls == 0  # each clip once
    assert statuses() == [S.DONE] * 4
    assert dynamo.get(str(clip.id))["verdict"] == "no_person"
    assert all(dynamo.get(str(c.id)) for c in others)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db
def test_an_older_update_never_overwrites_a_newer_one(world, dynamo_table):
    clip = processed_clip(world.cam_a)
    run_dynamo()
    review_record(item=clip.review_item, reviewer=world.reviewer, verdict="no_person", tags=["dog"])
    newer, _ = senders.clip_items([clip.id])[clip.id]
    # An update computed earlier (before the review) arrives late.
    older = {**newer, "verdict": None, "tags": [], "version": newer["version"] - 1_000_000}
    assert dynamo.put_if_newer(newer) is True
    assert dynamo.put_if_newer(older) is False
    assert dynamo.get(str(clip.id))["verdict"] == "no_person"
    # The same change sent twice (a retry) is accepted and changes nothing.
    assert dynamo.put_if_newer(newer) is True

    # Through the sync: a stale row (the table already holds something newer) is done, not written.
    dynamo.put_if_newer({**newer, "version": newer["version"] + 10_000_000, "verdict": "person"})
    run_dynamo()
    assert statuses() == [S.DONE]
    assert dynamo.get(str(clip.id))["verdict"] == "person"


@pytest.mark.django_db
def test_a_worker_killed_mid_batch_leaves_its_rows_to_be_sent_again(world, dynamo_table):
    clips = [processed_clip(world.cam_a, item=False) for _ in range(5)]
    discovery.discover(D.DYNAMODB)
    _token, rows = state.claim(D.DYNAMODB, limit=100)  # a worker takes the batch ...
    dynamo.batch_put([senders.clip_items([rows[0].clip_id])[rows[0].clip_id][0]])  # ... sends one, and dies
    assert run_dynamo() == 0  # leased: nobody else sends them meanwhile
    SyncState.objects.update(leased_until=timezone.now() - timedelta(seconds=1))  # the lease runs out
    assert run_dynamo() == 5
    assert statuses() == [S.DONE] * 5
    assert all(dynamo.get(str(c.id)) for c in clips)


@pytest.mark.django_db
def test_a_permanent_error_stops_and_shows_in_the_counts_until_an_operator_retries(
    world, settings, dynamo_table, client
):
    processed_clip(world.cam_a, item=False)
    settings.DYNAMODB_TABLE = "no-such-table"
    run_dynamo()
    row = SyncState.objects.get()
    assert row.status == S.FAILED and "ResourceNotFound" in row.last_error
    assert state.sync_counts() == {D.DYNAMODB: {S.FAILED: 1}}
    client.force_login(world.operator)
    assert client.get("/labeling/sync/status/").json() == {"sync": {"dynamodb": {"failed": 1}}}
    SyncState.objects.update(next_attempt_at=timezone.now() - timedelta(hours=1))
    assert run_dynamo() == 0  # failed rows are not retried by themselves

    settings.DYNAMODB_TABLE = dynamo_table
    assert state.sync_retry_failed() == 1
    assert run_dynamo() == 1
    assert statuses() == [S.DONE]


@pytest.mark.django_db
def test_it_is_off_when_the_table_is_unset(world, settings):
    settings.DYNAMODB_TABLE = ""
    settings.LABEL_STUDIO_URL = ""
    processed_clip(world.cam_a)
    assert sync.destinations() == []
    assert sync.sync_all() == {}
    assert not SyncState.objects.exists()


@pytest.mark.django_db
def test_the_beat_task_sends_what_changed(world, dynamo_table, settings):
    from labeling.sync.tasks import sync_pending

    settings.LABEL_STUDIO_URL = ""
    clip = processed_clip(world.cam_a)
    assert sync_pending() == {D.DYNAMODB: 1}
    review_record(item=clip.review_item, reviewer=world.reviewer, verdict="person", tags=[])
    assert sync_pending() == {D.DYNAMODB: 1}
    assert sync_pending() == {D.DYNAMODB: 0}
    assert dynamo.get(str(clip.id))["verdict"] == "person"

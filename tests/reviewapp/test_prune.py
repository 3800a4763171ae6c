"""Row retention (reviewapp/review/prune.py, `manage.py prune_clips`, the beat task
`prune_clips`): which clips go, what goes with them (rows and objects), what stays, the rollups
that keep counting them, the dry run and the batches within a time budget."""

import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone
from prometheus_client import REGISTRY

from labeling.models import SyncState
from reviewapp.core.storage import preview_storage_name
from reviewapp.review import prune, rollups
from reviewapp.review.models import AlertOutbox, Clip, Detection, PruneCursor, Review, ReviewItem
from reviewapp.review.tasks import prune_clips
from reviewapp.tuning.models import SuppressionRule
from tests.factories import ClipFactory, clip_detail_write
from tests.reviewapp.test_s3_storage import s3_storage  # noqa: F401  (a fixture)

BOX = {"frame_index": 0, "frame_time": 0.0, "x1": 1.0, "y1": 2.0, "x2": 50.0, "y2": 90.0, "score": 0.4}


def aged(clip: Clip, days: float, *, created_days: float | None = None) -> Clip:
    """Recorded (and created) `days` ago: created_at is auto_now_add, set behind its back."""
    now = timezone.now()
    created = now - timedelta(days=days if created_days is None else created_days)
    Clip.objects.filter(pk=clip.pk).update(recorded_at=now - timedelta(days=days), created_at=created)
    clip.refresh_from_db()
    return clip


def stored_clip(world, *, days: float, alert=False, external_id=None, **kwargs) -> Clip:
    """A processed clip with its objects in the default storage: the file, a browser copy, the
    detail (and its kept Detection row)."""
    clip = ClipFactory(camera=world.cam_a, alert=alert, score=0.4, external_id=external_id, **kwargs)
    default_storage.save(clip.file.name, ContentFile(b"video"))
    clip.preview.name = default_storage.save(preview_storage_name(clip.file.name), ContentFile(b"preview"))
    clip.save(update_fields=["preview"])
    clip_detail_write(clip, [BOX])
    return aged(clip, days)


def sync_row(clip: Clip, status: str) -> SyncState:
    now = timezone.now()
    return SyncState.objects.create(
        destination=SyncState.Destination.DYNAMODB, object_key=str(clip.pk), clip=clip, status=status,
        version=now, sent_version=now if status == SyncState.Status.DONE else None, next_attempt_at=now,
    )  # fmt: skip


def objects_of(clip: Clip) -> list[str]:
    return [clip.file.name, clip.preview.name, clip.detail]


@pytest.fixture
def retention(settings):
    settings.CLIP_RETENTION_DAYS = 90
    settings.CLIP_PRUNE_BATCH = 500
    settings.CLIP_PRUNE_BUDGET_SECONDS = 10.0
    return settings


def test_old_clips_nobody_looked_at_go_with_their_rows_and_objects_and_the_others_stay(world, retention):
    stale = stored_clip(world, days=100)
    sync_row(stale, SyncState.Status.DONE)  # settled: goes with it
    rule = SuppressionRule.objects.create(
        camera=world.cam_a, x1=0, y1=0, x2=1, y2=1, descriptor=b"\0" * 8, descriptor_version=1,
        iou_min=0.5, similarity_min=0.8, source_clip=stale, source_score=0.4,
    )  # fmt: skip
    failed = aged(ClipFactory(camera=world.cam_a, status=Clip.Status.FAILED, alert=None, score=None), 100)
    by_reference = stored_clip(world, days=100, external_id="s3://company-clips/clips/acme-door/a.mp4")

    kept = {}
    kept["reviewed"] = stored_clip(world, days=200)
    item = ReviewItem.objects.create(
        clip=kept["reviewed"], reason=ReviewItem.Reason.AUDIT_SAMPLE, priority=1, distance=0
    )
    Review.objects.create(item=item, clip=kept["reviewed"], reviewer=world.reviewer, verdict="no_person")
    kept["queued for review"] = stored_clip(world, days=200)
    ReviewItem.objects.create(
        clip=kept["queued for review"], reason=ReviewItem.Reason.NEAR_THRESHOLD, priority=1, distance=0.1
    )
    kept["reported"] = stored_clip(world, days=200)
    kept["reported"].reports.create(reported_by=world.customer_a, reason="a cat")
    kept["alerted"] = stored_clip(world, days=200, alert=True)
    AlertOutbox.objects.create(clip=kept["alerted"], status=AlertOutbox.Status.SENT, next_attempt_at=timezone.now())
    kept["recent"] = stored_clip(world, days=80)
    kept["uploaded late"] = stored_clip(world, days=100)
    aged(kept["uploaded late"], 100, created_days=1)
    kept["queued"] = aged(ClipFactory(camera=world.cam_a, status=Clip.Status.QUEUED, alert=None, score=None), 100)
    kept["processing"] = aged(
        ClipFactory(camera=world.cam_a, status=Clip.Status.PROCESSING, alert=None, score=None), 100
    )
    kept["not synced yet"] = stored_clip(world, days=100)
    sync_row(kept["not synced yet"], SyncState.Status.PENDING)
    kept["sync failed"] = stored_clip(world, days=100)
    sync_row(kept["sync failed"], SyncState.Status.FAILED)
    gone_objects = [*objects_of(stale), by_reference.preview.name, by_reference.detail]
    before = REGISTRY.get_sample_value("vigia_clips_pruned_total") or 0

    out = StringIO()
    call_command("prune_clips", stdout=out)

    assert "deleted 3 clip(s)" in out.getvalue()
    assert not Clip.objects.filter(pk__in=[stale.pk, failed.pk, by_reference.pk]).exists()
    assert not Detection.objects.filter(clip_id=stale.pk).exists()
    assert not SyncState.objects.filter(object_key=str(stale.pk)).exists()
    rule.refresh_from_db()
    assert rule.source_clip_id is None  # the rule stays, without its source
    assert [n for n in gone_objects if default_storage.exists(n)] == []
    assert default_storage.exists(by_reference.file.name)  # the company's object: its bucket's lifecycle
    for why, clip in kept.items():
        assert Clip.objects.filter(pk=clip.pk).exists(), why
        if clip.detail:
            assert all(default_storage.exists(n) for n in objects_of(clip)), why
    assert Detection.objects.filter(clip_id=kept["reviewed"].pk).count() == 1
    assert REGISTRY.get_sample_value("vigia_clips_pruned_total") == before + 3
    assert prune_clips() == 0  # the beat task: nothing left, nothing counted twice


def test_on_s3_the_objects_go_in_one_request_and_keep_a_reference_clips_own(world, retention, monkeypatch, s3_storage):  # noqa: F811
    s3, bucket = s3_storage
    uploaded = stored_clip(world, days=100)
    by_reference = stored_clip(world, days=100, external_id=f"s3://{bucket}/clips/acme-door/ref.mp4")
    default_storage.delete(uploaded.preview.name)  # a missing key is no error for DeleteObjects

    def one_by_one(self, name):
        raise AssertionError("S3: DeleteObjects, not a request per object")

    monkeypatch.setattr(type(default_storage._wrapped), "delete", one_by_one)
    run = prune.clips_prune()
    assert (run.clips, run.object_errors) == (2, 0)
    left = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    assert left == {by_reference.file.name}


def test_a_relation_the_fast_path_does_not_know_goes_through_djangos_collector(world, retention, monkeypatch):
    monkeypatch.setattr(prune, "_KEPT_BY", ())  # as if a kept relation were new: it has dependents
    stale = stored_clip(world, days=100)
    sync_row(stale, SyncState.Status.DONE)
    assert prune.clips_prune().clips == 1
    assert not Clip.objects.filter(pk=stale.pk).exists()
    assert not Detection.objects.filter(clip_id=stale.pk).exists()
    assert not SyncState.objects.filter(object_key=str(stale.pk)).exists()


def test_a_missing_object_is_no_error(world, retention):
    clip = stored_clip(world, days=100)
    default_storage.delete(clip.preview.name)  # gone already (a bucket rule, a manual cleanup)
    run = prune.clips_prune()
    assert (run.clips, run.object_errors) == (1, 0)
    assert not default_storage.exists(clip.file.name) and not default_storage.exists(clip.detail)


def test_an_expired_detail_is_not_deleted_twice_and_the_clip_still_goes(world, retention):
    clip = stored_clip(world, days=100)
    Clip.objects.filter(pk=clip.pk).update(detail_expired_at=timezone.now())
    default_storage.delete(clip.detail)
    assert prune.clips_prune().clips == 1
    assert not Clip.objects.filter(pk=clip.pk).exists()


def test_a_dry_run_deletes_nothing(world, retention):
    clips = [stored_clip(world, days=100) for _ in range(3)]
    out = StringIO()
    call_command("prune_clips", "--dry-run", "--batch", "2", stdout=out)
    assert "would delete 3 clip(s)" in out.getvalue()
    assert Clip.objects.count() == 3
    assert all(default_storage.exists(n) for c in clips for n in objects_of(c))


def test_the_batches_stop_at_the_budget_and_the_next_run_carries_on(world, retention):
    clips = [aged(ClipFactory(camera=world.cam_a, alert=False), 100 + i / 100) for i in range(5)]  # one window
    recent = aged(ClipFactory(camera=world.cam_a, alert=False), 10)
    runs = []
    while not runs or not runs[-1][1]:
        run = prune.clips_prune(batch=2, budget=0)  # a spent budget: one batch (or one empty window) a run
        runs.append((run.clips, run.finished))
        assert len(runs) < 100
    assert [n for n, _ in runs if n] == [2, 2, 1]  # oldest first, where the last run stopped
    assert runs[0] == (2, False) and runs[-1] == (0, True)
    assert list(Clip.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not Clip.objects.filter(pk__in=[c.pk for c in clips]).exists()


def test_the_sweep_goes_on_from_its_cursor_and_comes_back_for_clips_kept_for_a_while(world, retention):
    waiting = stored_clip(world, days=300)
    row = sync_row(waiting, SyncState.Status.PENDING)  # the DynamoDB sender has not settled it
    reviewed = [aged(ClipFactory(camera=world.cam_a, alert=False), 299 - i / 10) for i in range(3)]
    for clip in reviewed:
        ReviewItem.objects.create(clip=clip, reason=ReviewItem.Reason.AUDIT_SAMPLE, priority=1, distance=0)
    stale = aged(ClipFactory(camera=world.cam_a, alert=False), 100)
    run = prune.clips_prune(budget=3600)
    assert (run.clips, run.finished) == (1, True)
    assert not Clip.objects.filter(pk=stale.pk).exists()
    assert PruneCursor.objects.get().recorded_at is None  # at the horizon: the next sweep from the start
    SyncState.objects.filter(pk=row.pk).update(status=SyncState.Status.DONE)
    assert prune.clips_prune(budget=3600).clips == 1  # settled: the next sweep takes it
    assert not Clip.objects.filter(pk=waiting.pk).exists()
    assert Clip.objects.count() == 3


def test_a_review_item_made_after_the_clip_was_picked_keeps_it(world, retention):
    clip = aged(ClipFactory(camera=world.cam_a, alert=False), 100)
    now = timezone.now()
    ids = list(prune.prunable(now=now).values_list("pk", flat=True))
    assert ids == [clip.pk]
    ReviewItem.objects.create(clip=clip, reason=ReviewItem.Reason.AUDIT_SAMPLE, priority=1, distance=0)  # meanwhile
    rows, kept = prune._batch(ids, now=now, dry_run=False)
    assert (rows, kept) == ([], 1)
    assert Clip.objects.filter(pk=clip.pk).exists()


def test_the_horizon_is_a_utc_midnight_and_zero_keeps_everything(world, retention):
    now = datetime(2026, 12, 2, 4, 30, tzinfo=UTC)
    assert prune.retention_horizon(now) == datetime(2026, 9, 3, tzinfo=UTC)
    assert rollups.rebuild_floor(now).isoformat() == "2026-09-04"
    clip = aged(ClipFactory(camera=world.cam_a, alert=False), 400)
    retention.CLIP_RETENTION_DAYS = 0
    assert prune.retention_horizon(now) is None and rollups.rebuild_floor(now) is None
    assert prune.clips_prune().clips == 0 and prune_clips() == 0
    out = StringIO()
    call_command("prune_clips", stdout=out)
    assert "kept forever" in out.getvalue()
    assert Clip.objects.filter(pk=clip.pk).exists()


def test_metrics_say_when_the_retention_last_ran(world, retention):
    from reviewapp.core import metrics

    def last_run() -> float | None:
        for line in metrics.exposition(include_db=True).decode().splitlines():
            if line.startswith("vigia_clips_prune_last_run_seconds "):
                return float(line.split()[1])
        return None

    assert last_run() == -1  # never
    prune.clips_prune()  # nothing to prune: it ran all the same
    assert 0 <= last_run() < 3600
    retention.CLIP_RETENTION_DAYS = 0
    assert last_run() is None  # off: no gauge


def test_the_retention_runs_on_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["prune-clips"]
    assert entry["task"] == "reviewapp.tasks.prune_clips"
    assert settings.CELERY_BEAT_SCHEDULE["expire-clip-details"]["task"] == "reviewapp.tasks.expire_clip_details"


# ------------------------------------------------------------------------- the rollups


def table_rows():
    out = {}
    for t in rollups.TABLES:
        rows = t.model.objects.values_list(*t.keys, *t.counts)
        out[t.model.__name__] = sorted(r for r in rows if any(r[len(t.keys) :]))
    return out


def test_the_rollups_keep_counting_pruned_clips_through_a_prune_and_a_rebuild(world, retention):
    for days in (100, 100, 120, 30, 5):
        aged(ClipFactory(camera=world.cam_a, alert=False, score=0.3), days)
    reviewed = aged(ClipFactory(camera=world.cam_b, alert=False, score=0.45), 100)
    item = ReviewItem.objects.create(clip=reviewed, reason=ReviewItem.Reason.AUDIT_SAMPLE, priority=1, distance=0)
    Review.objects.create(item=item, clip=reviewed, reviewer=world.reviewer, verdict="person")
    rollups.rollups_rebuild(everything=True)  # the factory's clips bypass the services
    counted = table_rows()
    assert sum(r[-7] for r in counted["AnalysisCell"]) == 6  # every clip

    assert prune.clips_prune().clips == 3
    assert table_rows() == counted  # pruning does not go through clip_change
    call_command("analysis_rollups_rebuild", stdout=StringIO())  # from the floor on only
    assert table_rows() == counted
    out = StringIO()
    call_command("analysis_rollups_rebuild", "--since", "2020-01-01", stdout=out)  # moved up to the floor
    assert "instead" in out.getvalue() and table_rows() == counted
    call_command("analysis_rollups_rebuild", "--including-pruned-days", stdout=StringIO())  # told so: lost
    assert sum(r[-7] for r in table_rows()["AnalysisCell"]) == 3


# --------------------------------------------------------------------- PostgreSQL's locks


@pytest.mark.django_db(transaction=True)
def test_a_clip_a_service_holds_locked_waits_for_the_next_run(world, retention):
    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    held, locked = aged(ClipFactory(camera=world.cam_a, alert=False), 100), threading.Event()
    free = aged(ClipFactory(camera=world.cam_a, alert=False), 100)
    release = threading.Event()

    def service():  # a review being recorded: clip_change locks the clip's row first
        try:
            with transaction.atomic():
                list(Clip.objects.select_for_update().filter(pk=held.pk))
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=service)
    thread.start()
    try:
        assert locked.wait(10)
        run = prune.clips_prune()
        assert (run.clips, run.kept_by_race) == (1, 1)  # did not wait for it
    finally:
        release.set()
        thread.join()
    assert list(Clip.objects.values_list("pk", flat=True)) == [held.pk]
    assert not Clip.objects.filter(pk=free.pk).exists()
    assert prune.clips_prune().clips == 1  # the next run

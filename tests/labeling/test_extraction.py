"""The periodic near-threshold extraction: band, per-camera cap, review queue, copies with
metadata (JSON Lines and CSV), and re-runs that add nothing twice."""

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from labeling.export import extraction, storage, tasks
from labeling.models import ExtractedClip, ExtractionPeriod
from reviewapp.core.errors import ApplicationError
from reviewapp.review.models import ReviewItem
from tests.labeling.exports import ClipMaker

START = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
END = START + timedelta(hours=1)


@pytest.fixture
def maker(tmp_path):
    return ClipMaker(tmp_path)


@pytest.fixture
def out(settings, tmp_path):
    settings.EXTRACTION_BAND = 0.1
    settings.EXTRACTION_PER_CAMERA_CAP = 2
    return tmp_path / "near"


def at(minutes):
    return START + timedelta(minutes=minutes)


def read_metadata(root: Path):
    base = root / "metadata/2026/05/04/0900-1000"
    rows = [json.loads(line) for line in Path(f"{base}.jsonl").read_text().splitlines()]
    table = list(csv.DictReader(io.StringIO(Path(f"{base}.csv").read_text())))
    return rows, table


def test_it_queues_and_copies_the_clips_near_each_cameras_threshold(world, maker, out):
    world.cam_b.threshold = 0.3
    world.cam_b.save()
    near_a = maker.clip(world.cam_a, score=0.55, recorded_at=at(5))  # |0.55 - 0.5| = 0.05
    below_a = maker.clip(world.cam_a, score=0.42, recorded_at=at(10))  # 0.08
    maker.clip(world.cam_a, score=0.9, recorded_at=at(15))  # far above
    maker.clip(world.cam_a, score=0.5, recorded_at=START - timedelta(minutes=1))  # previous period
    maker.clip(world.cam_a, score=0.5, recorded_at=END)  # next period
    near_b = maker.clip(world.cam_b, score=0.35, recorded_at=at(20))  # near its own threshold
    maker.clip(world.cam_b, score=0.55, recorded_at=at(25))  # near 0.5, not near 0.3

    result = extraction.extraction_run(start=START, end=END, out=str(out))
    assert result["added"] == 3 and result["clips"] == 3

    expected = {near_a.id, below_a.id, near_b.id}
    assert set(ReviewItem.objects.values_list("clip_id", flat=True)) == expected
    assert set(ReviewItem.objects.values_list("reason", flat=True)) == {ReviewItem.Reason.NEAR_THRESHOLD}

    rows, table = read_metadata(out)
    assert {r["clip_id"] for r in rows} == {str(i) for i in expected}
    assert [r["clip_id"] for r in table] == [r["clip_id"] for r in rows]
    for r in rows:
        assert set(r) == set(extraction.METADATA_FIELDS)
        copied = out / r["object_key"]
        assert copied.is_file() and copied.read_bytes() == maker.video.read_bytes()
    by_id = {r["clip_id"]: r for r in rows}
    assert by_id[str(near_a.id)]["decision"] == "alert" and by_id[str(below_a.id)]["decision"] == "no_alert"
    assert by_id[str(near_b.id)]["threshold"] == 0.3 and by_id[str(near_b.id)]["camera"] == "globex-gate"
    assert by_id[str(near_a.id)]["model_version"] == "test"


def test_the_per_camera_cap_keeps_the_closest_clips(world, maker, out):
    clips = [maker.clip(world.cam_a, score=0.5 + d, recorded_at=at(i)) for i, d in enumerate([0.09, 0.01, 0.05, 0.03])]
    other = maker.clip(world.cam_b, score=0.52, recorded_at=at(30))
    extraction.extraction_run(start=START, end=END, out=str(out))
    assert set(ExtractedClip.objects.values_list("clip_id", flat=True)) == {clips[1].id, clips[3].id, other.id}


def test_running_the_same_period_again_adds_nothing_twice(world, maker, out):
    first = [maker.clip(world.cam_a, score=0.52, recorded_at=at(i)) for i in range(3)]
    extraction.extraction_run(start=START, end=END, out=str(out))
    rows_before, _ = read_metadata(out)
    assert len(rows_before) == 2  # the cap

    again = extraction.extraction_run(start=START, end=END, out=str(out))
    assert again["added"] == 0 and again["clips"] == 2
    rows_after, table = read_metadata(out)
    assert rows_after == rows_before and len(table) == 2
    assert ExtractedClip.objects.count() == 2 and ReviewItem.objects.count() == 2
    assert ExtractionPeriod.objects.get().runs == 2

    # A clip processed late for the same period: another camera's fits, this camera's cap is full.
    late_b = maker.clip(world.cam_b, score=0.5, recorded_at=at(59))
    maker.clip(world.cam_a, score=0.5, recorded_at=at(58))  # closer than the two taken, but the cap is spent
    third = extraction.extraction_run(start=START, end=END, out=str(out))
    assert third["added"] == 1
    assert set(ExtractedClip.objects.values_list("clip_id", flat=True)) == {first[0].id, first[1].id, late_b.id}
    copies = sorted(p.name for p in (out / "clips").rglob("*.mp4"))
    assert len(copies) == 3


def test_a_clip_already_reviewed_keeps_its_review_item_state(world, maker, out):
    from reviewapp.review import queue

    clip = maker.clip(world.cam_a, score=0.52, recorded_at=at(1))
    item = queue.review_item_enqueue(clip=clip, reason=ReviewItem.Reason.CUSTOMER_REPORT)
    extraction.extraction_run(start=START, end=END, out=str(out))
    item.refresh_from_db()
    assert item.reason == ReviewItem.Reason.CUSTOMER_REPORT, "a stronger reason is not downgraded"


def test_a_clip_without_its_file_is_skipped_and_tried_again_next_run(world, maker, out, settings):
    clip = maker.clip(world.cam_a, score=0.52, recorded_at=at(1))
    Path(settings.MEDIA_ROOT, clip.file.name).rename(Path(settings.MEDIA_ROOT, clip.file.name + ".away"))
    result = extraction.extraction_run(start=START, end=END, out=str(out))
    assert result["added"] == 0 and result["missing_files"] == 1
    assert not ExtractedClip.objects.exists()
    Path(settings.MEDIA_ROOT, clip.file.name + ".away").rename(Path(settings.MEDIA_ROOT, clip.file.name))
    assert extraction.extraction_run(start=START, end=END, out=str(out))["added"] == 1


def test_it_copies_to_an_s3_bucket_over_http(world, maker, settings, aws_endpoint, aws_env):
    settings.EXTRACTION_BAND, settings.EXTRACTION_PER_CAMERA_CAP = 0.1, 5
    bucket = f"vigia-near-{uuid.uuid4().hex[:10]}"
    s3 = boto3.client("s3", endpoint_url=aws_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    settings.AWS_S3_ENDPOINT_URL = aws_endpoint
    storage.reset()
    try:
        clip = maker.clip(world.cam_a, score=0.45, recorded_at=at(3))
        extraction.extraction_run(start=START, end=END, out=f"s3://{bucket}/near")
        extraction.extraction_run(start=START, end=END, out=f"s3://{bucket}/near")
    finally:
        storage.reset()
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == [
        f"near/clips/acme-door/2026/05/04/{clip.id}.mp4",
        "near/metadata/2026/05/04/0900-1000.csv",
        "near/metadata/2026/05/04/0900-1000.jsonl",
    ]
    lines = s3.get_object(Bucket=bucket, Key="near/metadata/2026/05/04/0900-1000.jsonl")["Body"].read().splitlines()
    assert [json.loads(line)["clip_id"] for line in lines] == [str(clip.id)]


def test_the_last_full_period_is_aligned():
    now = datetime(2026, 5, 4, 10, 37, 12, tzinfo=UTC)
    assert extraction.last_full_period(now=now, seconds=3600) == (START, END)
    assert extraction.last_full_period(now=now, seconds=900) == (at(75), at(90))


def test_a_reversed_period_is_refused(db, out):
    with pytest.raises(ApplicationError):
        extraction.extraction_run(start=END, end=START, out=str(out))


def test_the_beat_task_runs_the_last_two_periods(world, maker, out, settings, monkeypatch):
    settings.EXTRACTION_OUT = str(out)
    monkeypatch.setattr(extraction, "last_full_period", lambda: (START, END))
    earlier = maker.clip(world.cam_a, score=0.5, recorded_at=START - timedelta(minutes=30))
    now = maker.clip(world.cam_a, score=0.5, recorded_at=at(30))
    results = tasks.extract_near_threshold()
    assert [r["added"] for r in results] == [1, 1]
    assert set(ExtractedClip.objects.values_list("clip_id", flat=True)) == {earlier.id, now.id}
    assert tasks.extract_near_threshold() == [{**r, "added": 0} for r in results]


def test_with_the_dynamodb_index_it_selects_the_same_clips(world, maker, out, dynamo_table):
    from labeling.sync import dynamo, senders

    clips = [maker.clip(world.cam_a, score=0.5 + d, recorded_at=at(i)) for i, d in enumerate([0.09, 0.01, 0.05, 0.2])]
    other_day = maker.clip(world.cam_b, score=0.5, recorded_at=START - timedelta(days=1))
    far = maker.clip(world.cam_b, score=0.9, recorded_at=at(40))
    b_near = maker.clip(world.cam_b, score=0.45, recorded_at=at(41))
    items = [item for item, _ in senders.clip_items([c.id for c in [*clips, other_day, far, b_near]]).values()]
    assert dynamo.batch_put(items) == []

    from_index = extraction.near_threshold_candidates_dynamo(start=START, end=END, band=0.1, cap=2)
    from_db = extraction.near_threshold_candidates(start=START, end=END, band=0.1, cap=2)
    assert [c.id for c in from_index] == [c.id for c in from_db] == [clips[1].id, clips[2].id, b_near.id]

    result = extraction.extraction_run(start=START, end=END, out=str(out))
    assert result["added"] == 3


def test_when_dynamodb_fails_it_selects_from_the_database(world, maker, out, settings, monkeypatch):
    from labeling.sync import dynamo

    settings.DYNAMODB_TABLE = "not-there"

    def down(**_kw):
        raise dynamo.DynamoError("connection refused", retryable=True)

    monkeypatch.setattr(dynamo, "clips_in_score_band", down)
    clip = maker.clip(world.cam_a, score=0.52, recorded_at=at(1))
    assert extraction.extraction_run(start=START, end=END, out=str(out))["added"] == 1
    assert ExtractedClip.objects.get().clip_id == clip.id


def test_the_beat_task_retries_an_unreachable_store_and_gives_up_on_a_missing_bucket(
    world, maker, settings, aws_endpoint, aws_env, monkeypatch
):
    settings.EXTRACTION_BAND, settings.EXTRACTION_PER_CAMERA_CAP = 0.1, 5
    monkeypatch.setattr(extraction, "last_full_period", lambda: (START, END))
    maker.clip(world.cam_a, score=0.5, recorded_at=START - timedelta(minutes=5))  # the first period: a copy
    try:
        settings.EXTRACTION_OUT = f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/near"
        settings.AWS_S3_ENDPOINT_URL = aws_endpoint
        storage.reset()
        assert tasks.extract_near_threshold() == [], "a missing bucket needs an operator, not retries"

        settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9"  # nothing listens there
        storage.reset()
        with pytest.raises(tasks.StorageHiccup):
            tasks.extract_near_threshold()
    finally:
        storage.reset()
    assert not ExtractedClip.objects.exists()

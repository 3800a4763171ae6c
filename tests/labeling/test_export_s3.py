"""Exports to an S3-compatible endpoint over HTTP (moto's server): published with the marker
last, nothing left under the temporary prefix, nothing complete-looking after a failure."""

import io
import json
import uuid

import boto3
import pytest
import yaml

from labeling.export import service as export
from labeling.export import storage
from labeling.models import ExportRun
from tests.factories import CameraFactory
from tests.labeling.exports import ClipMaker


@pytest.fixture
def bucket(settings, aws_endpoint, aws_env):
    name = f"vigia-exports-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=aws_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=name)
    settings.AWS_S3_ENDPOINT_URL = aws_endpoint
    storage.reset()
    yield s3, name
    storage.reset()


@pytest.fixture
def dataset(world, tmp_path):
    maker = ClipMaker(tmp_path)
    cams = [world.cam_a, world.cam_b, CameraFactory(customer=world.acme, name="acme-yard")]
    for cam in cams:
        maker.reviewed(cam, world.reviewer, verdict="person")
        maker.reviewed(cam, world.reviewer, verdict="no_person", tags=["dog"], alert=True)


def keys(s3, bucket, prefix=""):
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def test_it_exports_to_s3_and_writes_the_marker_last(bucket, dataset):
    s3, name = bucket
    run = export.export_request(options={"out": f"s3://{name}/training/sets", "augment": "none"})
    export.export_execute(export_id=run.id)
    run.refresh_from_db()
    assert run.status == ExportRun.Status.DONE, run.error
    assert run.location == f"s3://{name}/training/sets/{run.name}"

    prefix = f"training/sets/{run.name}/"
    found = keys(s3, name, prefix)
    assert prefix + storage.COMPLETE_MARKER in found
    assert keys(s3, name, "training/sets/_tmp/") == [], "the temporary prefix is cleaned"
    marker = json.loads(s3.get_object(Bucket=name, Key=prefix + storage.COMPLETE_MARKER)["Body"].read())
    assert marker["export_run"] == run.id and marker["images"] == run.counts["images"]

    def body(key):
        return s3.get_object(Bucket=name, Key=prefix + key)["Body"].read()

    entries = [json.loads(line) for line in body("manifest.jsonl").decode().splitlines()]
    assert len(entries) == run.counts["images"] > 0
    for e in entries:
        assert prefix + e["image"] in found and prefix + e["label"] in found
    coco = json.loads(body("annotations/instances_train.json"))
    assert {"images", "annotations", "categories"} <= coco.keys()
    assert yaml.safe_load(io.BytesIO(body("data.yaml")))["names"] == {0: "person"}
    # The marker is the newest object of the export.
    heads = {k: s3.head_object(Bucket=name, Key=k)["LastModified"] for k in found}
    assert heads[prefix + storage.COMPLETE_MARKER] == max(heads.values())


def test_a_failure_mid_upload_leaves_nothing_in_the_bucket(bucket, dataset, monkeypatch):
    s3, name = bucket
    original = storage.S3Staging.put_bytes
    calls = {"n": 0}

    def flaky(self, key, data):
        calls["n"] += 1
        if calls["n"] > 6:
            raise storage.StorageError("write: SlowDown", retryable=True)
        return original(self, key, data)

    monkeypatch.setattr(storage.S3Staging, "put_bytes", flaky)
    run = export.export_request(options={"out": f"s3://{name}/sets"})
    export.export_execute(export_id=run.id)
    run.refresh_from_db()
    assert run.status == ExportRun.Status.FAILED and "SlowDown" in run.error
    assert keys(s3, name) == []


def test_a_publish_cut_before_the_marker_is_not_complete_and_is_replaced(bucket, dataset, monkeypatch):
    """Copies made, marker never written (the worker died): the next attempt finds no marker,
    clears the half-published prefix and publishes again."""
    s3, name = bucket
    run = export.export_request(options={"out": f"s3://{name}/sets"})
    target = storage.parse(f"s3://{name}/sets")
    target.put_bytes(f"{run.name}/images/train/leftover.jpg", b"\xff\xd8")
    assert not target.is_complete(run.name)
    export.export_execute(export_id=run.id)
    run.refresh_from_db()
    assert run.status == ExportRun.Status.DONE
    assert f"sets/{run.name}/images/train/leftover.jpg" not in keys(s3, name)
    assert target.is_complete(run.name)


def test_an_unreachable_endpoint_fails_the_run_with_the_reason(settings, dataset, aws_env):
    settings.AWS_S3_ENDPOINT_URL = "http://127.0.0.1:9"  # nothing listens there
    storage.reset()
    try:
        run = export.export_request(options={"out": "s3://nowhere/sets"})
        export.export_execute(export_id=run.id)
    finally:
        storage.reset()
    run.refresh_from_db()
    assert run.status == ExportRun.Status.FAILED and "Could not connect" in run.error

"""Clips in S3 (django-storages) over HTTP: ingest stores there, the worker reads from there,
the video page hands out a presigned URL."""

import uuid

import boto3
import pytest
from django.core.files.storage import storages
from django.test import Client
from django.utils import timezone

from reviewapp.core.errors import ApplicationError
from reviewapp.review import ingest, processing
from reviewapp.review.models import Clip


@pytest.fixture
def s3_storage(settings, aws_endpoint, aws_env):
    bucket = f"vigia-clips-{uuid.uuid4().hex[:12]}"  # the server lives for the whole session
    boto3.client("s3", endpoint_url=aws_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    settings.CLIP_BUCKET = bucket
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": aws_endpoint,
                "region_name": "us-east-1",
                "default_acl": None,
                "file_overwrite": False,
                "querystring_expire": 600,
            },
        },
    }
    storages._storages = {}  # rebuild the default storage from the new settings
    yield boto3.client("s3", endpoint_url=aws_endpoint, region_name="us-east-1"), bucket
    storages._storages = {}


def test_a_clip_goes_to_s3_is_processed_from_s3_and_served_presigned(world, video, s3_storage):
    s3, bucket = s3_storage
    clip, created = ingest.clip_ingest(camera=world.cam_a, path=str(video()), recorded_at=timezone.now())
    assert created
    head = s3.head_object(Bucket=bucket, Key=clip.file.name)
    assert head["ContentLength"] == clip.size_bytes

    processing.clip_process(clip_id=clip.id)
    clip.refresh_from_db()
    assert clip.status == Clip.Status.DONE and clip.frames_sampled == 4

    client = Client()
    client.force_login(world.customer_a)
    response = client.get(f"/clips/{clip.id}/video/")
    assert response.status_code == 302
    assert bucket in response["Location"] and "Signature" in response["Location"] and "Expires" in response["Location"]
    frame = client.get(f"/clips/{clip.id}/frames/0.jpg")
    assert frame.status_code == 200 and frame.content[:2] == b"\xff\xd8"


def test_a_refused_upload_leaves_nothing_in_the_bucket(world, tmp_path, s3_storage):
    s3, bucket = s3_storage
    bad = tmp_path / "x.mp4"
    bad.write_text("not a video")
    with pytest.raises(ApplicationError):
        ingest.clip_ingest(camera=world.cam_a, path=str(bad), recorded_at=timezone.now())
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0

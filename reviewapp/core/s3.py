"""Objects in the clip bucket read directly with boto3: what an object is (HEAD) and its bytes,
for clips ingested by reference (reviewapp.review.ingest_reference). The clips Vigia stores
itself go through django-storages (reviewapp.core.storage); this is for objects others put there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

from botocore.exceptions import BotoCoreError, ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from django.conf import settings

from reviewapp.core import aws
from reviewapp.core.errors import StorageError

_MISSING_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchBucket"}
_DENIED_CODES = {"403", "AccessDenied", "Forbidden"}


class ObjectMissing(StorageError):
    """The object is not (or no longer) in the bucket: asking again will not bring it back."""

    def __init__(self, message: str):
        super().__init__(message, retryable=False)


@dataclass(frozen=True)
class ObjectHead:
    size: int
    content_type: str
    etag: str
    last_modified: datetime
    metadata: dict[str, str] = field(default_factory=dict)  # x-amz-meta-*, names lower case


def client():
    return aws.client("s3", endpoint_url=settings.AWS_S3_ENDPOINT_URL, region=settings.AWS_REGION)


def _error(exc: Exception, what: str) -> StorageError:
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _MISSING_CODES:
            return ObjectMissing(f"{what}: no such object")
        # A denied read is a configuration fault (the role's policy): not fixed by retrying soon.
        return StorageError(f"{what}: {code}: {exc}", retryable=code not in _DENIED_CODES)
    return StorageError(f"{what}: {exc}", retryable=True)


def object_head(*, bucket: str, key: str) -> ObjectHead:
    try:
        r = client().head_object(Bucket=bucket, Key=key)
    except (ClientError, BotoConnectionError, BotoCoreError) as exc:
        raise _error(exc, f"HEAD s3://{bucket}/{key}") from exc
    return ObjectHead(
        size=int(r["ContentLength"]),
        content_type=r.get("ContentType") or "",
        etag=r.get("ETag") or "",
        last_modified=r["LastModified"],
        metadata={k.lower(): v for k, v in (r.get("Metadata") or {}).items()},
    )


def object_download(*, bucket: str, key: str, out: BinaryIO, etag: str = "", max_bytes: int) -> str:
    """Copy the object into `out`; returns the sha256 of its bytes. With `etag`, the object read
    must be the one that was HEADed (an overwrite in between is a retryable error)."""
    extra = {"IfMatch": etag} if etag else {}
    h = hashlib.sha256()
    copied = 0
    try:
        body = client().get_object(Bucket=bucket, Key=key, **extra)["Body"]
        for chunk in iter(lambda: body.read(1 << 20), b""):
            copied += len(chunk)
            if copied > max_bytes:
                raise StorageError(f"s3://{bucket}/{key} grew past {max_bytes} bytes while read", retryable=False)
            h.update(chunk)
            out.write(chunk)
    except (ClientError, BotoConnectionError, BotoCoreError) as exc:
        raise _error(exc, f"GET s3://{bucket}/{key}") from exc
    return h.hexdigest()

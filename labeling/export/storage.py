"""Where exports and extracted clips go: a local folder, or `s3://bucket/prefix` (boto3).

One small interface for both, so the export and the extraction job do not care which:

- `Target.put_file(key, path)` / `put_bytes(key, data)` write one object (an overwrite of the same
  key with the same bytes is harmless: that is what makes the extraction job re-runnable);
- `Target.staged(name)` gives a `Staging` for an artifact that must appear all at once: files go
  under a temporary name, `publish()` makes them visible under `name` with the completion marker
  written last, `abort()` removes everything. A consumer treats `<name>/` as complete only when
  `<name>/_COMPLETE` exists.

On a local disk the staging folder is a sibling of the final one and `publish()` is one rename
(atomic on one filesystem). S3 has no rename: objects are uploaded under `<prefix>/_tmp/<name>/`,
copied server-side to `<prefix>/<name>/`, the marker is written last, then the temporary prefix is
deleted. A killed export leaves only `_tmp/` objects or a final prefix without the marker, neither of
which looks complete (an S3 lifecycle rule on `_tmp/` expires the leftovers).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from reviewapp.core import aws
from reviewapp.core.errors import StorageError

COMPLETE_MARKER = "_COMPLETE"
TMP_PREFIX = "_tmp"


class Staging(Protocol):
    def put_file(self, key: str, path: str | Path) -> None: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def publish(self, marker: dict) -> str: ...
    def abort(self) -> None: ...


def parse(uri: str) -> Target:
    """A Target from `s3://bucket[/prefix]` or a local folder path. Raises ValueError when malformed."""
    uri = (uri or "").strip()
    if not uri:
        raise ValueError("no destination given")
    if uri.startswith("s3://"):
        bucket, _, prefix = uri[5:].partition("/")
        if not bucket:
            raise ValueError(f"{uri!r} names no bucket (s3://bucket/prefix)")
        return S3Target(bucket=bucket, prefix=prefix.strip("/"))
    if "://" in uri:
        raise ValueError(f"{uri!r}: only local folders and s3://bucket/prefix are supported")
    return LocalTarget(root=Path(uri).expanduser().resolve())


def _safe_key(key: str) -> str:
    parts = [p for p in key.replace("\\", "/").split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise ValueError(f"bad object key {key!r}")
    return "/".join(parts)


# ------------------------------------------------------------------------------------ local


@dataclass(frozen=True)
class LocalTarget:
    root: Path

    @property
    def uri(self) -> str:
        return str(self.root)

    def location(self, name: str) -> str:
        return str(self.root / _safe_key(name))

    def put_file(self, key: str, path: str | Path) -> None:
        dest = self.root / _safe_key(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
        shutil.copyfile(path, tmp)
        os.replace(tmp, dest)  # a reader never sees half a file

    def put_bytes(self, key: str, data: bytes) -> None:
        dest = self.root / _safe_key(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.part")
        tmp.write_bytes(data)
        os.replace(tmp, dest)

    def is_complete(self, name: str) -> bool:
        return (self.root / _safe_key(name) / COMPLETE_MARKER).is_file()

    def staged(self, name: str) -> LocalStaging:
        return LocalStaging(self, _safe_key(name))


class LocalStaging:
    def __init__(self, target: LocalTarget, name: str):
        self.final = target.root / name
        self.final.parent.mkdir(parents=True, exist_ok=True)
        # What a killed earlier attempt at the same artifact left behind.
        for stale in self.final.parent.glob(f".tmp-{self.final.name}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        # A sibling of the final folder: the same filesystem, so publishing is one rename.
        self.dir = self.final.parent / f".tmp-{self.final.name}-{uuid.uuid4().hex[:8]}"
        self.dir.mkdir()

    def put_file(self, key: str, path: str | Path) -> None:
        dest = self.dir / _safe_key(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)

    def put_bytes(self, key: str, data: bytes) -> None:
        dest = self.dir / _safe_key(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)

    def publish(self, marker: dict) -> str:
        if self.final.exists():
            raise StorageError(f"{self.final} already exists", retryable=False)
        (self.dir / COMPLETE_MARKER).write_text(json.dumps(marker, indent=2, default=str))
        os.rename(self.dir, self.final)
        return str(self.final)

    def abort(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------------------- S3


def _s3():
    # Exports upload whole images: a longer read timeout than the app's small objects.
    return aws.client(
        "s3",
        endpoint_url=settings.AWS_S3_ENDPOINT_URL,
        region=settings.AWS_REGION,
        connect_timeout=5,
        read_timeout=60,
        attempts=4,
    )


def reset() -> None:
    aws.reset()


def _error(exc: Exception, what: str) -> StorageError:
    if isinstance(exc, S3UploadFailedError) and isinstance(exc.__context__, ClientError):
        exc = exc.__context__  # upload_file wraps the service's answer
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        retryable = status >= 500 or code in ("SlowDown", "RequestTimeout", "Throttling", "InternalError")
        return StorageError(f"{what}: {code or status}: {exc}", retryable=retryable)
    return StorageError(f"{what}: {type(exc).__name__}: {exc}", retryable=True)  # connection trouble


@dataclass(frozen=True)
class S3Target:
    bucket: str
    prefix: str = ""

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def key(self, key: str) -> str:
        key = _safe_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def location(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.key(name)}"

    def put_file(self, key: str, path: str | Path) -> None:
        try:
            _s3().upload_file(str(path), self.bucket, self.key(key))
        except (ClientError, BotoCoreError, S3UploadFailedError) as exc:
            raise _error(exc, f"upload to {self.location(key)}") from exc

    def put_bytes(self, key: str, data: bytes) -> None:
        try:
            _s3().put_object(Bucket=self.bucket, Key=self.key(key), Body=data)
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc, f"write {self.location(key)}") from exc

    def is_complete(self, name: str) -> bool:
        try:
            _s3().head_object(Bucket=self.bucket, Key=self.key(f"{name}/{COMPLETE_MARKER}"))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise _error(exc, f"check {self.location(name)}") from exc
        except BotoCoreError as exc:
            raise _error(exc, f"check {self.location(name)}") from exc
        return True

    def keys_under(self, name: str) -> list[str]:
        return self.keys_under_prefix(name + "/")

    def keys_under_prefix(self, start: str) -> list[str]:
        prefix = f"{self.prefix}/{start}" if self.prefix else start
        keys: list[str] = []
        try:
            for page in _s3().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                keys += [o["Key"] for o in page.get("Contents", [])]
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc, f"list s3://{self.bucket}/{prefix}") from exc
        return keys

    def delete_keys(self, keys: list[str]) -> None:
        try:
            for start in range(0, len(keys), 1000):  # DeleteObjects' limit
                chunk = [{"Key": k} for k in keys[start : start + 1000]]
                _s3().delete_objects(Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True})
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc, f"delete under s3://{self.bucket}") from exc

    def staged(self, name: str) -> S3Staging:
        return S3Staging(self, _safe_key(name))


class S3Staging:
    def __init__(self, target: S3Target, name: str):
        self.target = target
        self.name = name
        # What a killed earlier attempt at the same artifact left behind.
        target.delete_keys(target.keys_under_prefix(f"{TMP_PREFIX}/{name}-"))
        self.tmp_name = f"{TMP_PREFIX}/{name}-{uuid.uuid4().hex[:8]}"
        self._written: list[str] = []  # relative keys, in order

    def put_file(self, key: str, path: str | Path) -> None:
        key = _safe_key(key)
        self.target.put_file(f"{self.tmp_name}/{key}", path)
        self._written.append(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        key = _safe_key(key)
        self.target.put_bytes(f"{self.tmp_name}/{key}", data)
        self._written.append(key)

    def publish(self, marker: dict) -> str:
        t = self.target
        if t.is_complete(self.name):
            raise StorageError(f"{t.location(self.name)} is already a complete export", retryable=False)
        # Anything already under the final name (a killed earlier publish) has no marker: replace it.
        t.delete_keys(t.keys_under(self.name))
        try:
            for key in self._written:
                _s3().copy_object(
                    Bucket=t.bucket,
                    Key=t.key(f"{self.name}/{key}"),
                    CopySource={"Bucket": t.bucket, "Key": t.key(f"{self.tmp_name}/{key}")},
                )
        except (ClientError, BotoCoreError) as exc:
            raise _error(exc, f"publish {t.location(self.name)}") from exc
        # Last: from this write on, the export is complete.
        t.put_bytes(f"{self.name}/{COMPLETE_MARKER}", json.dumps(marker, indent=2, default=str).encode())
        # Published: leftovers under _tmp/ are harmless and expire by lifecycle rule.
        with contextlib.suppress(StorageError):
            t.delete_keys(t.keys_under(self.tmp_name))
        return t.location(self.name)

    def abort(self) -> None:
        t = self.target
        try:
            leftovers = t.keys_under(self.tmp_name)
            if not t.is_complete(self.name):
                leftovers += t.keys_under(self.name)
            t.delete_keys(leftovers)
        except StorageError:
            pass  # best effort: nothing left here carries the marker


Target = LocalTarget | S3Target

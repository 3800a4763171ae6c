"""Clip files in the default storage (S3 or a local folder): where a clip is stored, and a local
path to read it from. No model imports: anything with `.file.name` is a clip here."""

from __future__ import annotations

import shutil
import tempfile
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from django.core.files.storage import default_storage

from reviewapp.core.errors import StorageError


def clip_storage_name(*, camera_name: str, clip_id, recorded_at: datetime, ext: str) -> str:
    return f"clips/{camera_name}/{recorded_at:%Y/%m/%d}/{clip_id}.{ext}"


def preview_storage_name(clip_name: str) -> str:
    """Where a clip's browser copy (reviewapp.review.preview) is stored: beside the clip."""
    return f"{clip_name.rsplit('.', 1)[0]}.preview.mp4"


@contextmanager
def clip_local_file(clip):
    """A local path to the clip's file: the file itself on a local disk, a temporary copy otherwise."""
    try:
        local = default_storage.path(clip.file.name)
    except NotImplementedError:  # S3 and other remote storages
        local = None
    if local is not None:
        yield local
        return
    suffix = Path(clip.file.name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        try:
            with default_storage.open(clip.file.name, "rb") as src:
                shutil.copyfileobj(src, tmp, 1 << 20)
        except FileNotFoundError:
            raise  # the clip is gone: retrying will not bring it back
        except Exception as exc:  # network or storage service trouble
            raise StorageError(f"cannot read {clip.file.name}: {exc}", retryable=True) from exc
        tmp.flush()
        yield tmp.name

"""The periodic near-threshold extraction (the seed's scheduled job).

Every period (hourly by default) the clips recorded in the last full period whose score lies
within EXTRACTION_BAND of their camera's threshold, at most EXTRACTION_PER_CAMERA_CAP per camera
(closest to the threshold first), are (a) put in the review queue and (b) copied to
EXTRACTION_OUT with the period's metadata, as JSON Lines and CSV:

    <out>/clips/<camera>/<yyyy>/<mm>/<dd>/<clip_id>.<ext>
    <out>/metadata/<yyyy>/<mm>/<dd>/<period start %H%M>-<period end %H%M>.{jsonl,csv}

Re-running a period adds nothing twice: an ExtractedClip row (one per clip, ever) records each
clip done, the per-camera cap counts the clips already extracted, a copy rewrites the same key
with the same bytes, and the metadata files are rewritten whole from the rows.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, FloatField, Window
from django.db.models.functions import Abs, RowNumber
from django.utils import timezone

from labeling.export import storage
from labeling.models import ExtractedClip, ExtractionPeriod
from labeling.sync import dynamo
from reviewapp.core.errors import ApplicationError
from reviewapp.core.storage import clip_local_file, clip_storage_name
from reviewapp.review import queue
from reviewapp.review.models import Camera, Clip, ReviewItem

log = logging.getLogger(__name__)

METADATA_FIELDS = ["clip_id", "camera", "recorded_at", "score", "threshold", "decision", "model_version", "object_key"]


def last_full_period(*, now: datetime | None = None, seconds: int | None = None) -> tuple[datetime, datetime]:
    """[start, end) of the last period that has ended, aligned on multiples of its length."""
    seconds = seconds or settings.EXTRACTION_PERIOD_SECONDS
    now = now or timezone.now()
    epoch = int(now.timestamp())
    end = datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)
    return end - timedelta(seconds=seconds), end


def near_threshold_candidates(*, start: datetime, end: datetime, band: float, cap: int):
    """Processed clips of [start, end) within `band` of their camera's threshold, ranked per
    camera by closeness (ties: older first, then id), at most `cap` per camera."""
    distance = Abs(F("score") - F("camera__threshold"), output_field=FloatField())
    ranked = (
        Clip.objects.filter(status=Clip.Status.DONE, score__isnull=False, recorded_at__gte=start, recorded_at__lt=end)
        .annotate(distance=distance)
        .filter(distance__lte=band)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("camera_id")],
                order_by=[F("distance").asc(), F("recorded_at").asc(), F("id").asc()],
            )
        )
        .filter(rank__lte=cap)
        .select_related("camera")
        .order_by("camera__name", "rank")
    )
    return list(ranked)


def near_threshold_candidates_dynamo(*, start: datetime, end: datetime, band: float, cap: int) -> list[Clip]:
    """The same selection from the DynamoDB index (GSI by_day_score: one Query per day and score
    range, no scan), for when the table is there: the clip table is not read to find them. Items
    arrive a few seconds after processing (the sync's interval); the beat task's re-run of the
    previous period picks up the late ones."""
    thresholds = dict(Camera.objects.values_list("name", "threshold"))
    if not thresholds:
        return []
    low, high = max(0.0, min(thresholds.values()) - band), min(1.0, max(thresholds.values()) + band)
    day, ranked = start.astimezone(UTC).date(), {}
    while day <= (end - timedelta(microseconds=1)).astimezone(UTC).date():
        for item in dynamo.clips_in_score_band(day=day.isoformat(), low=low, high=high):
            recorded = datetime.fromisoformat(item["recorded_at"])
            threshold = thresholds.get(item["camera"])
            if threshold is None or not start <= recorded < end:
                continue
            distance = abs(float(item["score"]) - threshold)
            if distance <= band:
                ranked.setdefault(item["camera"], []).append((distance, recorded, item["clip_id"]))
        day += timedelta(days=1)
    chosen = [clip_id for camera in sorted(ranked) for _, _, clip_id in sorted(ranked[camera])[:cap]]
    clips = Clip.objects.select_related("camera").filter(status=Clip.Status.DONE).in_bulk(chosen)
    by_text = {str(k): v for k, v in clips.items()}
    return [by_text[c] for c in chosen if c in by_text]


def _metadata_name(start: datetime, end: datetime) -> str:
    return f"metadata/{start:%Y/%m/%d}/{start:%H%M}-{end:%H%M}"


def extraction_run(*, start: datetime | None = None, end: datetime | None = None, out: str | None = None) -> dict:
    """Extract one period (the last full one by default). Returns counts. Safe to run again."""
    if start is None or end is None:
        start, end = last_full_period()
    if start >= end:
        raise ApplicationError("the period's start must be before its end", code="invalid_period")
    out = out or settings.EXTRACTION_OUT or str(settings.EXPORT_ROOT / "near-threshold")
    try:
        target = storage.parse(out)
    except ValueError as exc:
        raise ApplicationError(str(exc), code="invalid_destination") from exc
    band, cap = settings.EXTRACTION_BAND, settings.EXTRACTION_PER_CAMERA_CAP

    period, _ = ExtractionPeriod.objects.get_or_create(start=start, end=end, defaults={"target": target.uri})
    added, missing = _extract(
        _candidates(start=start, end=end, band=band, cap=cap), period=period, target=target, cap=cap
    )
    rows = list(ExtractedClip.objects.filter(period=period).select_related("clip", "clip__camera"))
    _write_metadata(target, _metadata_name(start, end), rows)
    ExtractionPeriod.objects.filter(id=period.id).update(
        clips=len(rows), runs=F("runs") + 1, last_run_at=timezone.now(), target=target.uri
    )
    log.info("near-threshold %s..%s: %d added, %d in the period", start, end, added, len(rows))
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "added": added,
        "clips": len(rows),
        "missing_files": missing,
        "metadata": target.location(_metadata_name(start, end) + ".jsonl"),
    }


def _candidates(*, start: datetime, end: datetime, band: float, cap: int) -> list[Clip]:
    if dynamo.enabled() and settings.EXTRACTION_FROM_DYNAMODB:
        try:
            return near_threshold_candidates_dynamo(start=start, end=end, band=band, cap=cap)
        except dynamo.DynamoError as exc:
            # The index is a convenience; the database has the same answer.
            log.warning("near-threshold: DynamoDB unavailable (%s), selecting from the database", exc)
    return near_threshold_candidates(start=start, end=end, band=band, cap=cap)


def _extract(candidates: list[Clip], *, period: ExtractionPeriod, target, cap: int) -> tuple[int, int]:
    """Copy and queue the candidates not extracted yet, within each camera's cap for the period.
    Returns (added, clips without a file)."""
    done_ids = set(
        ExtractedClip.objects.filter(clip_id__in=[c.id for c in candidates]).values_list("clip_id", flat=True)
    )
    already = {}
    for camera_id in ExtractedClip.objects.filter(period=period).values_list("clip__camera_id", flat=True):
        already[camera_id] = already.get(camera_id, 0) + 1
    added = missing = 0
    for clip in candidates:
        if clip.id in done_ids:
            continue
        if already.get(clip.camera_id, 0) >= cap:
            continue  # the camera's cap is full with clips of earlier runs
        outcome = _extract_one(clip, period=period, target=target)
        missing += outcome == "missing"
        if outcome == "added":
            already[clip.camera_id] = already.get(clip.camera_id, 0) + 1
            added += 1
    return added, missing


def _extract_one(clip: Clip, *, period: ExtractionPeriod, target) -> str:
    """What became of the clip: "added", "missing" (no file) or "taken" (by a concurrent run)."""
    ext = clip.file.name.rsplit(".", 1)[-1] if "." in clip.file.name else "mp4"
    key = clip_storage_name(camera_name=clip.camera.name, clip_id=clip.id, recorded_at=clip.recorded_at, ext=ext)
    # Copy first, row last: a crash in between copies again next run (same key, same bytes).
    try:
        with clip_local_file(clip) as path:
            target.put_file(key, path)
    except FileNotFoundError:
        log.warning("near-threshold: clip %s has no file, skipped", clip.id)
        return "missing"
    try:
        with transaction.atomic():
            queue.review_item_enqueue(clip=clip, reason=ReviewItem.Reason.NEAR_THRESHOLD)
            ExtractedClip.objects.create(
                clip=clip, period=period, object_key=key, score=clip.score, threshold=clip.camera.threshold
            )
    except IntegrityError:
        return "taken"
    return "added"


def _write_metadata(target, name: str, rows: list[ExtractedClip]) -> None:
    records = []
    for row in rows:
        clip = row.clip
        records.append(
            {
                "clip_id": str(clip.id),
                "camera": clip.camera.name,
                "recorded_at": clip.recorded_at.isoformat(),
                "score": row.score,
                "threshold": row.threshold,
                "decision": "alert" if clip.alert else "no_alert",
                "model_version": clip.model_version,
                "object_key": row.object_key,
            }
        )
    jsonl = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METADATA_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    target.put_bytes(name + ".jsonl", jsonl.encode())
    target.put_bytes(name + ".csv", buf.getvalue().encode())

"""A clip's per-frame detail: every box of every detected frame, with its descriptor and the rule
that suppressed it, kept in object storage beside the clip (`<clip id>.detections.json.gz` in the clip's folder,
through the default storage: S3, or the local media folder) instead of one database row per box.

Why: a busy scene (people in every frame) has ~1,500 boxes a clip, most with a 784-byte
descriptor: as rows that is ~1.5 MB of database a clip (benchmarks/bench_db_size.py). The
database keeps the clip-level summary (score, frame counts, detections_count) and a handful of
Detection rows (`summary_detections`: the deciding box, and the best box of each rule that
suppressed something), ≤ 4 KiB a clip with its indexes.

Every reader of per-frame boxes asks `clip_detail(clip)` (or `clip_boxes`): the clip page and
its frames, the API, the rule-making of a review, the export, the verifier's training and
replay, the Label Studio tasks. Clips processed before the detail existed (`clip.detail` blank,
never expired) are read from their Detection rows, as they were stored then.

Retention: `details_expire` deletes the detail of clips nobody reviewed or reported once they
are CLIP_DETAIL_RETENTION_DAYS old (a beat task); `clip_detail` then returns None and the clip
page says the detail is gone.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import posixpath
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, OuterRef

from inference.decision import BoxRef, ClipDecision, Outcome
from inference.detector import Box
from inference.pipeline import FrameResult
from inference.suppression import from_bytes, to_bytes
from reviewapp.core.errors import StorageError
from reviewapp.review.models import Clip, Detection, FalseAlertReport, ReviewItem

log = logging.getLogger(__name__)

FORMAT = 1
SUFFIX = ".detections.json.gz"
# Database rows kept per clip besides the deciding box: the best box of each rule that suppressed
# something (the rules page, the flag of a rule by a later "person"), at most this many rules.
SUMMARY_MAX_RULES = 5


@dataclass(frozen=True)
class DetailBox:
    """One box of one detected frame, read the way Detection rows were (`id`: its position in the
    clip's detail, stable for one processing of the clip)."""

    id: int
    frame_index: int
    frame_time: float
    x1: float
    y1: float
    x2: float
    y2: float
    score: float
    label: str
    descriptor: bytes | None  # float32 little-endian (inference.suppression.to_bytes)
    suppressed_by_id: int | None

    @property
    def box(self) -> Box:
        return Box(self.x1, self.y1, self.x2, self.y2, self.score, self.label)


@dataclass(frozen=True)
class ClipDetail:
    frames: list[FrameResult]  # the detected frames as the worker decided them
    rules: list[list[int | None]]  # for each frame, for each box, the rule that suppressed it
    boxes: list[DetailBox]  # every box, flat, in frame then box order

    def frame_boxes(self, frame_index: int) -> list[DetailBox]:
        return [b for b in self.boxes if b.frame_index == frame_index]

    def rows(self) -> list[list[DetailBox]]:
        """The boxes of each frame, aligned with `frames` (for BoxRef lookups)."""
        out, k = [], 0
        for f in self.frames:
            out.append(self.boxes[k : k + len(f.boxes)])
            k += len(f.boxes)
        return out


# ------------------------------------------------------------------------------------ writing


def detail_name(clip) -> str:
    """`<folder of the clip's file>/<clip id>.detections.json.gz`: beside the clip, and named by the
    clip's id, not its file's (a clip by reference has someone else's key; two rows never share it)."""
    folder = posixpath.dirname(clip.file.name)
    return posixpath.join(folder, f"{clip.id}{SUFFIX}")


def _encode(clip, frames: Sequence[FrameResult], suppressed_by) -> bytes:
    def box(f: FrameResult, j: int, b: Box, rule) -> list:
        d = f.descriptors[j] if j < len(f.descriptors) else None
        desc = base64.b64encode(to_bytes(d)).decode() if d is not None else None
        return [b.x1, b.y1, b.x2, b.y2, b.score, b.label, rule, desc]

    doc = {
        "format": FORMAT,
        "clip": str(clip.id),
        "size": [clip.width, clip.height],
        "frames": [
            {"index": f.index, "time": f.time, "boxes": [box(f, j, b, rules[j]) for j, b in enumerate(f.boxes)]}
            for f, rules in zip(frames, suppressed_by)
        ],
    }
    return gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), compresslevel=6)


def detail_write(*, clip, frames: Sequence[FrameResult], suppressed_by: Sequence[Sequence[int | None]]) -> str:
    """Store the clip's detail beside it; returns its storage name. Called by the worker before the
    clip's result commits (outside the transaction: it is network I/O). A second processing of
    the clip writes the same name again."""
    name = detail_name(clip)
    data = _encode(clip, frames, suppressed_by)
    try:
        if default_storage.exists(name):  # the local storage would pick another name otherwise
            default_storage.delete(name)
        saved = default_storage.save(name, ContentFile(data))
    except Exception as exc:  # network or storage service trouble: the task retries
        raise StorageError(f"cannot store {name}: {exc}", retryable=True) from exc
    _cache_drop(saved)
    return saved


def summary_detections(*, clip, frames: Sequence[FrameResult], decision: ClipDecision) -> list[Detection]:
    """The few Detection rows the database keeps (not saved): the box that decided the clip, and
    the best box of each rule that suppressed something. No descriptors: those are in the detail."""
    picked: dict[tuple[int, int], int | None] = {}
    if decision.decided_by is not None:
        picked[(decision.decided_by.frame, decision.decided_by.box_index)] = None
    best_of_rule: dict[int, tuple[int, int]] = {}
    for i, rules in enumerate(decision.suppressed_by):
        for j, rule in enumerate(rules):
            if rule is not None:
                old = best_of_rule.get(rule)
                if old is None or frames[i].boxes[j].score > frames[old[0]].boxes[old[1]].score:
                    best_of_rule[rule] = (i, j)
    ranked = sorted(best_of_rule.items(), key=lambda kv: -frames[kv[1][0]].boxes[kv[1][1]].score)
    for rule, ref in ranked[:SUMMARY_MAX_RULES]:
        picked[ref] = rule
    rows = []
    for (i, j), rule in sorted(picked.items()):
        f, b = frames[i], frames[i].boxes[j]
        rows.append(
            Detection(
                clip=clip, frame_index=f.index, frame_time=f.time, x1=b.x1, y1=b.y1, x2=b.x2, y2=b.y2,
                score=b.score, label=b.label, suppressed_by_id=rule,
            )
        )  # fmt: skip
    return rows


def summary_of(frames: Sequence[FrameResult], rules: Sequence[Sequence[int | None]]) -> ClipDecision:
    """The part of a decision `summary_detections` needs, for boxes decided earlier (the deciding
    box: the best person box no rule suppressed, as `decide_clip` scores it)."""
    people = [
        BoxRef(i, j, b)
        for i, f in enumerate(frames)
        for j, b in enumerate(f.boxes)
        if b.label == "person" and rules[i][j] is None
    ]
    best = max(people, key=lambda r: r.box.score, default=None)
    return ClipDecision(
        score=best.box.score if best else 0.0, alert=False, near_threshold=False, outcome=Outcome.QUIET,
        suppressed_by=tuple(tuple(r) for r in rules), decided_by=best,
    )  # fmt: skip


def detail_backfill(*, clip) -> bool:
    """Move the Detection rows of a clip processed before the detail existed to its detail file,
    keeping the summary rows. The file first, then the rows in one transaction, conditional on
    the clip still having no detail (two runs never both move it)."""
    if clip.detail or clip.detail_expired_at is not None or clip.status != Clip.Status.DONE:
        return False
    found = _from_rows(clip)
    name = detail_write(clip=clip, frames=found.frames, suppressed_by=found.rules)
    rows = summary_detections(clip=clip, frames=found.frames, decision=summary_of(found.frames, found.rules))
    with transaction.atomic():
        if not Clip.objects.filter(id=clip.pk, detail="").update(detail=name):
            return False
        Detection.objects.filter(clip_id=clip.pk).delete()
        Detection.objects.bulk_create(rows)
    clip.detail = name
    return True


# ------------------------------------------------------------------------------------ reading

# Parsed details of the last few clips read by this process: a clip page draws its frame strip
# with one request per frame, each of which needs the same clip's boxes.
_CACHE: OrderedDict[tuple, ClipDetail] = OrderedDict()
_CACHE_SIZE = 8
_lock = threading.Lock()


def _cache_drop(name: str) -> None:
    with _lock:
        for key in [k for k in _CACHE if k[0] == name]:
            del _CACHE[key]


def _decode(data: bytes, size: tuple[int, int]) -> ClipDetail:
    doc = json.loads(gzip.decompress(data))
    frames, rules, boxes = [], [], []
    for fr in doc["frames"]:
        frame_boxes, descs, frame_rules = [], [], []
        for x1, y1, x2, y2, score, label, rule, desc in fr["boxes"]:
            raw = base64.b64decode(desc) if desc is not None else None
            frame_boxes.append(Box(x1, y1, x2, y2, score, label))
            descs.append(from_bytes(raw) if raw is not None else None)
            frame_rules.append(rule)
            boxes.append(DetailBox(len(boxes), fr["index"], fr["time"], x1, y1, x2, y2, score, label, raw, rule))
        frames.append(FrameResult(fr["index"], fr["time"], frame_boxes, descs, tuple(doc.get("size") or size)))
        rules.append(frame_rules)
    return ClipDetail(frames, rules, boxes)


def _from_rows(clip) -> ClipDetail:
    """A clip processed before the detail existed: its Detection rows (every box, then)."""
    by_frame: dict[int, list[Detection]] = {}
    for d in sorted(Detection.objects.filter(clip_id=clip.pk), key=lambda d: (d.frame_index, d.id)):
        by_frame.setdefault(d.frame_index, []).append(d)
    frames, rules, boxes = [], [], []
    for index, rows in by_frame.items():
        descs = [from_bytes(d.descriptor) if d.descriptor is not None else None for d in rows]
        frames.append(
            FrameResult(index, rows[0].frame_time, [Box(d.x1, d.y1, d.x2, d.y2, d.score, d.label) for d in rows],
                        descs, (clip.width, clip.height))
        )  # fmt: skip
        rules.append([d.suppressed_by_id for d in rows])
        boxes += [
            DetailBox(d.id, d.frame_index, d.frame_time, d.x1, d.y1, d.x2, d.y2, d.score, d.label,
                      bytes(d.descriptor) if d.descriptor is not None else None, d.suppressed_by_id)
            for d in rows
        ]  # fmt: skip
    return ClipDetail(frames, rules, boxes)


def decided_detection(detections) -> Detection | None:
    """The box that gave the clip its score among its kept rows: the best unsuppressed person box,
    the first of the clip in time on a tie (what `inference.decision.decide_clip` calls `decided_by`)."""
    kept = [d for d in detections if d.label == "person" and d.suppressed_by_id is None]
    return max(kept, key=lambda d: d.score, default=None)


def deciding_box_fractions(clip, detections=None) -> dict | None:
    """Where and when the deciding box is, in fractions of the frame (no score: customers see it):
    {"time", "frame", "left", "top", "width", "height"}; None without one. `detections`: the clip's
    kept rows if already at hand (else read, without their descriptors)."""
    if detections is None:
        detections = clip.detections.all()
    best = decided_detection(detections)
    if best is None or not clip.width or not clip.height:
        return None
    return {
        "time": best.frame_time,
        "frame": best.frame_index,
        "left": best.x1 / clip.width,
        "top": best.y1 / clip.height,
        "width": (best.x2 - best.x1) / clip.width,
        "height": (best.y2 - best.y1) / clip.height,
    }


def clip_detail(clip) -> ClipDetail | None:
    """The clip's per-frame detail; None when it is gone (expired, or its file missing). A clip not
    processed yet has an empty one."""
    if clip.detail_expired_at is not None:
        return None
    if not clip.detail:
        return _from_rows(clip)
    key = (clip.detail, clip.finished_at)
    with _lock:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    try:
        with default_storage.open(clip.detail, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        log.warning("clip %s: its detail %s is missing", clip.pk, clip.detail)
        return None
    except Exception as exc:  # network or storage service trouble
        raise StorageError(f"cannot read {clip.detail}: {exc}", retryable=True) from exc
    detail = _decode(data, (clip.width, clip.height))
    with _lock:
        _CACHE[key] = detail
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return detail


def clip_boxes(clip) -> list[DetailBox]:
    """Every box of the clip (none when its detail is gone)."""
    detail = clip_detail(clip)
    return detail.boxes if detail is not None else []


# ---------------------------------------------------------------------------------- retention


def details_expirable(*, now: datetime):
    """Clips whose detail may go: processed more than CLIP_DETAIL_RETENTION_DAYS ago, never queued
    for review (a review, a customer's report and the near-threshold extraction all come with a
    review item) and never reported."""
    cutoff = now - timedelta(days=settings.CLIP_DETAIL_RETENTION_DAYS)
    return (
        Clip.objects.filter(finished_at__lt=cutoff, detail_expired_at=None)
        .exclude(detail="")
        .exclude(Exists(ReviewItem.objects.filter(clip=OuterRef("pk"))))
        .exclude(Exists(FalseAlertReport.objects.filter(clip=OuterRef("pk"))))
    )


def details_expire(*, now: datetime, limit: int = 5000) -> int:
    """Delete the detail files of up to `limit` expirable clips; returns how many. The clip row is
    marked first (a conditional update: two runs never both count a clip), then the file goes: a
    crash in between leaves an orphan file, never a clip pointing at nothing. Off when
    CLIP_DETAIL_RETENTION_DAYS is 0."""
    if not settings.CLIP_DETAIL_RETENTION_DAYS:
        return 0
    done = 0
    for clip_id, name in details_expirable(now=now).values_list("id", "detail")[:limit]:
        if not Clip.objects.filter(id=clip_id, detail_expired_at=None).update(detail_expired_at=now):
            continue
        try:
            default_storage.delete(name)
        except Exception as exc:  # the clip says it is gone either way; the file is an orphan
            log.warning("clip %s: cannot delete its detail %s: %s", clip_id, name, exc)
        _cache_drop(name)
        done += 1
    if done:
        log.info("deleted the detail of %d clip(s) older than %d days", done, settings.CLIP_DETAIL_RETENTION_DAYS)
    return done

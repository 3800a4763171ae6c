"""Training-set exports: balanced sets of reviewed frames, with hard negatives and augmentation.

    export_request(options=..., user=..., trigger=...)  check, select, create a queued ExportRun
    export_execute(export_id=...)                       what the Celery task runs

Selection (reviewed clips only; a clip's verdict is its newest review):
- positives: verdict "person";
- hard negatives: verdict "no_person" on a clip that alerted (a confirmed false positive);
- plain negatives: verdict "no_person" on a clip that did not alert.
The negatives' target is `ratio` x positives, `easy_share` of it reserved for plain negatives and
the rest for hard negatives; a kind that runs short leaves its slots empty (the other kind does
not fill them, so the mix is what was asked). `camera_cap` bounds the clips of each class per
camera, `tag_cap` the hard negatives per tag. Everything is decided by `seed`.

Frames are the ones the detector saw (the detection rows' frame indices), read with OpenCV; boxes
are the detector's person boxes on confirmed-person frames, none on negatives (their boxes stay
in the manifest as `false_boxes`). Splits are by camera. The scarce class is augmented in train.

Output, under `<out>/<name>/` (see labeling.storage for how it is published atomically):
    images/{train,val,test}/*.jpg   labels/{train,val,test}/*.txt   data.yaml         (YOLO)
    annotations/instances_{train,val,test}.json                                         (COCO)
    manifest.jsonl   stats.json   _COMPLETE (written last)
"""

from __future__ import annotations

import json
import logging
import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from labeling.export import storage
from labeling.export.augment import Augmenter
from labeling.models import ExportRun
from reviewapp.core.errors import ApplicationError
from reviewapp.core.storage import clip_local_file
from reviewapp.review.models import Camera, Clip, Customer, Detection, Review, Tag

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
POSITIVE, HARD_NEGATIVE, NEGATIVE = "positive", "hard_negative", "negative"
AUGMENT_CHOICES = ("negative", "positive", "none")
CATEGORY_ID = 1  # COCO; YOLO class 0


# ---------------------------------------------------------------------------------- options


@dataclass(frozen=True)
class ExportOptions:
    out: str
    camera: tuple[str, ...] = ()
    customer: int | None = None
    tag: tuple[str, ...] = ()
    since: str | None = None  # ISO date or datetime, inclusive
    until: str | None = None  # ISO date (that whole day included) or datetime (exclusive): the cut-off
    model_version: str = ""
    ratio: float = 1.0
    easy_share: float = 0.25
    camera_cap: int | None = None
    tag_cap: int | None = None
    frames_per_clip: int = 3
    box_min_score: float = 0.3
    split: tuple[float, float, float] = (0.7, 0.15, 0.15)
    seed: int = 0
    augment: str = "negative"
    augment_max: int = 2
    jpeg_quality: int = 90

    def as_params(self) -> dict[str, Any]:
        d = asdict(self)
        d["camera"], d["tag"], d["split"] = list(self.camera), list(self.tag), list(self.split)
        return d

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ExportOptions:
        p = dict(params)
        p["camera"], p["tag"], p["split"] = tuple(p.get("camera", ())), tuple(p.get("tag", ())), tuple(p["split"])
        return cls(**{k: v for k, v in p.items() if k in cls.__dataclass_fields__})


def default_out() -> str:
    return str(settings.EXPORT_OUT or settings.EXPORT_ROOT)


def _list(value) -> list[str]:
    if value in (None, ""):
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    out: list[str] = []
    for item in items:
        out += [s.strip() for s in str(item).split(",") if s.strip()]
    return out


def _moment(value: str, *, end: bool) -> datetime:
    """An ISO date or datetime as an aware datetime; a date's `end` is the next midnight."""
    dt = parse_datetime(value)
    if dt is None:
        d = parse_date(value)
        if d is None:
            raise ValueError("not an ISO date")
        dt = datetime.combine(d + timedelta(days=1) if end else d, time.min)
    return dt if timezone.is_aware(dt) else timezone.make_aware(dt, timezone.get_current_timezone())


def export_options_clean(raw: dict[str, Any], *, local_only_under: Path | None = None) -> ExportOptions:
    """Check and convert raw options (from the command line, the form, the schedule).

    `local_only_under`: a local destination must be inside this folder (the web page: a staff
    member may choose a bucket, not any folder the web server can write to).
    Raises ApplicationError naming every bad field; nothing is stored."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}

    def number(name, kind, *, default, low=None, high=None, low_open=False):
        value = raw.get(name)
        if value in (None, ""):
            values[name] = default
            return
        try:
            value = kind(value)
            if kind is float and not math.isfinite(value):
                raise ValueError
        except (TypeError, ValueError):
            errors[name] = [f"must be a{'n integer' if kind is int else ' number'}"]
            return
        if low is not None and (value <= low if low_open else value < low):
            errors[name] = [f"must be {'>' if low_open else '>='} {low}"]
        elif high is not None and value > high:
            errors[name] = [f"must be <= {high}"]
        else:
            values[name] = value

    out = str(raw.get("out") or "").strip() or default_out()
    try:
        target = storage.parse(out)
    except ValueError as exc:
        errors["out"] = [str(exc)]
    else:
        if isinstance(target, storage.LocalTarget):
            out = str(target.root)
            if local_only_under is not None and not target.root.is_relative_to(Path(local_only_under).resolve()):
                errors["out"] = [f"a local destination must be inside {Path(local_only_under).resolve()}"]
    values["out"] = out

    number("ratio", float, default=1.0, low=0, low_open=True)
    number("easy_share", float, default=0.25, low=0, high=1)
    number("camera_cap", int, default=None, low=1)
    number("tag_cap", int, default=None, low=1)
    number("frames_per_clip", int, default=3, low=1, high=50)
    number("box_min_score", float, default=0.3, low=0, high=1)
    number("seed", int, default=0)
    number("augment_max", int, default=2, low=0, high=10)
    number("jpeg_quality", int, default=90, low=50, high=100)
    if raw.get("customer") not in (None, ""):
        number("customer", int, default=None, low=1)
        if "customer" in values and not Customer.objects.filter(id=values["customer"]).exists():
            errors["customer"] = [f"no customer with id {values['customer']}"]
    else:
        values["customer"] = None

    augment = str(raw.get("augment") or "negative")
    if augment not in AUGMENT_CHOICES:
        errors["augment"] = [f"must be one of {', '.join(AUGMENT_CHOICES)}"]
    values["augment"] = augment

    split = raw.get("split") or (0.7, 0.15, 0.15)
    try:
        split = tuple(float(s) for s in (_list(split) if isinstance(split, str) else split))
        if len(split) != 3 or any(s < 0 or not math.isfinite(s) for s in split) or split[0] <= 0:
            raise ValueError
        total = sum(split)
        split = tuple(round(s / total, 6) for s in split)
    except (TypeError, ValueError):
        errors["split"] = ["three non-negative numbers train,val,test (train > 0)"]
    values["split"] = split

    cameras = sorted(set(_list(raw.get("camera"))))
    unknown = sorted(set(cameras) - set(Camera.objects.filter(name__in=cameras).values_list("name", flat=True)))
    if unknown:
        errors["camera"] = [f"unknown camera(s): {', '.join(unknown)}"]
    values["camera"] = tuple(cameras)

    tags = sorted(set(_list(raw.get("tag"))))
    unknown = sorted(set(tags) - set(Tag.objects.filter(slug__in=tags).values_list("slug", flat=True)))
    if unknown:
        errors["tag"] = [f"unknown tag(s): {', '.join(unknown)}"]
    values["tag"] = tuple(tags)

    for name in ("since", "until"):
        value = str(raw.get(name) or "").strip()
        values[name] = value or None
        if value:
            try:
                _moment(value, end=name == "until")
            except ValueError:
                errors[name] = ["an ISO date (YYYY-MM-DD) or date-time"]
    both = values["since"] and values["until"] and "since" not in errors and "until" not in errors
    if both and _moment(values["since"], end=False) >= _moment(values["until"], end=True):
        errors["until"] = ["must be after since"]
    values["model_version"] = str(raw.get("model_version") or "").strip()

    if errors:
        first = next(iter(errors.items()))
        raise ApplicationError(f"{first[0]}: {first[1][0]}", code="invalid_export", fields=errors)
    return ExportOptions(**values)


# -------------------------------------------------------------------------------- selection


@dataclass(frozen=True)
class Candidate:
    clip_id: str
    camera: str
    customer_id: int
    klass: str
    review_id: int
    tags: tuple[str, ...] = ()
    recorded_at: datetime | None = None
    score: float | None = None


@dataclass
class Selection:
    positives: list[Candidate]
    hard_negatives: list[Candidate]
    negatives: list[Candidate]
    available: dict[str, int] = field(default_factory=dict)

    @property
    def clips(self) -> list[Candidate]:
        return self.positives + self.hard_negatives + self.negatives


def candidates_query(opts: ExportOptions):
    """Reviewed, processed clips matching the filters, with their newest review."""
    newest = Review.objects.filter(clip=OuterRef("pk")).order_by("-created_at", "-id")
    qs = (
        # From the reviews, not the clips: reviewed clips are a small share of all clips, and the
        # semi-join lets the database start from the review table.
        Clip.objects.filter(status=Clip.Status.DONE, pk__in=Review.objects.values("clip_id")).annotate(
            review_id=Subquery(newest.values("id")[:1]), verdict=Subquery(newest.values("verdict")[:1])
        )
    )
    if opts.camera:
        qs = qs.filter(camera__name__in=opts.camera)
    if opts.customer:
        qs = qs.filter(camera__customer_id=opts.customer)
    if opts.since:
        qs = qs.filter(recorded_at__gte=_moment(opts.since, end=False))
    if opts.until:
        qs = qs.filter(recorded_at__lt=_moment(opts.until, end=True))
    if opts.model_version:
        qs = qs.filter(model_version=opts.model_version)
    return qs


def export_candidates(opts: ExportOptions) -> list[Candidate]:
    rows = list(
        candidates_query(opts).values_list(
            "id", "camera__name", "camera__customer_id", "alert", "review_id", "verdict", "recorded_at", "score"
        )
    )
    tags: dict[int, list[str]] = defaultdict(list)
    review_ids = [r[4] for r in rows]
    through = Review.tags.through
    for start in range(0, len(review_ids), 900):  # SQLite's bound-parameter limit
        for review_id, slug in through.objects.filter(review_id__in=review_ids[start : start + 900]).values_list(
            "review_id", "tag__slug"
        ):
            tags[review_id].append(slug)
    wanted_tags = set(opts.tag)
    out = []
    for clip_id, camera, customer_id, alert, review_id, verdict, recorded_at, score in rows:
        if verdict == Review.Verdict.PERSON:
            klass = POSITIVE
        else:
            klass = HARD_NEGATIVE if alert else NEGATIVE
            # The tag filter picks which negatives to learn from; positives carry no error tags.
            if wanted_tags and not wanted_tags & set(tags[review_id]):
                continue
        out.append(
            Candidate(
                str(clip_id), camera, customer_id, klass, review_id, tuple(sorted(tags[review_id])), recorded_at, score
            )
        )
    return out


def balance(candidates: Iterable[Candidate], opts: ExportOptions) -> Selection:
    """The clips to export, from the candidates and the options. Pure: same input, same output."""
    rng = random.Random(opts.seed)
    pools: dict[str, list[Candidate]] = {POSITIVE: [], HARD_NEGATIVE: [], NEGATIVE: []}
    for c in candidates:
        pools[c.klass].append(c)
    for pool in pools.values():
        pool.sort(key=lambda c: c.clip_id)  # independent of the query's order
        rng.shuffle(pool)

    per_camera: Counter = Counter()
    per_tag: Counter = Counter()

    def pick(pool: list[Candidate], limit: int | None, group: str, *, tag_capped: bool) -> list[Candidate]:
        chosen = []
        for c in pool:
            if limit is not None and len(chosen) >= limit:
                break
            if opts.camera_cap is not None and per_camera[(c.camera, group)] >= opts.camera_cap:
                continue
            if tag_capped and opts.tag_cap is not None and any(per_tag[t] >= opts.tag_cap for t in c.tags):
                continue
            chosen.append(c)
            per_camera[(c.camera, group)] += 1
            if tag_capped:
                per_tag.update(c.tags)
        return chosen

    positives = pick(pools[POSITIVE], None, POSITIVE, tag_capped=False)
    target = round(opts.ratio * len(positives))
    easy_slots = round(opts.easy_share * target)
    hard = pick(pools[HARD_NEGATIVE], target - easy_slots, "negative", tag_capped=True)
    easy = pick(pools[NEGATIVE], easy_slots, "negative", tag_capped=True)
    return Selection(positives, hard, easy, {k: len(v) for k, v in pools.items()})


def export_select(opts: ExportOptions) -> Selection:
    selection = balance(export_candidates(opts), opts)
    if not selection.positives:
        raise ApplicationError(
            "empty selection: no reviewed clip confirmed as a person matches these filters "
            f"(found {selection.available[HARD_NEGATIVE]} hard and {selection.available[NEGATIVE]} plain negatives)",
            code="empty_selection",
        )
    return selection


def assign_splits(cameras: dict[str, int], fractions: tuple[float, float, float], seed: int) -> dict[str, str]:
    """{camera: split}, by camera so that no camera's frames teach and test at once.

    Cameras are taken largest first (ties in a seeded order) and each goes to the split furthest
    below its share of clips. With three cameras or more, val and test get at least one each
    (the smallest ones) when their share is not zero."""
    rng = random.Random(seed)
    names = sorted(cameras)
    rng.shuffle(names)
    order = sorted(names, key=lambda n: -cameras[n])  # stable: the shuffle breaks ties
    total = sum(cameras.values()) or 1
    assigned: dict[str, str] = {}
    load = Counter()
    wanted = [s for s, f in zip(SPLITS[1:], fractions[1:]) if f > 0]
    if len(order) >= 1 + len(wanted):
        for split in wanted:
            name = order.pop()  # the smallest left
            assigned[name] = split
            load[split] += cameras[name]
    for name in order:
        deficits = {s: f * total - load[s] for s, f in zip(SPLITS, fractions)}
        split = max(SPLITS, key=lambda s: (deficits[s], s == "train"))
        assigned[name] = split
        load[split] += cameras[name]
    return assigned


# ----------------------------------------------------------------------------------- frames


@dataclass
class FramePlan:
    index: int
    time: float
    boxes: list[tuple[float, float, float, float, float]]  # person boxes to label, with scores
    false_boxes: list[tuple[float, float, float, float, float]]  # the detector's boxes on a negative


def plan_frames(clip: Clip, klass: str, detections: list[tuple], opts: ExportOptions) -> list[FramePlan]:
    """Which frames of a clip to export, and their boxes. `detections`: (frame_index, frame_time,
    x1, y1, x2, y2, score, label) rows of the clip."""
    by_frame: dict[int, list[tuple]] = defaultdict(list)
    for d in detections:
        if d[7] == "person":
            by_frame[d[0]].append(d)
    ranked = sorted(by_frame.items(), key=lambda kv: (-max(d[6] for d in kv[1]), kv[0]))
    plans = []
    if klass == POSITIVE:
        for index, dets in ranked:
            boxes = [tuple(d[2:7]) for d in dets if d[6] >= opts.box_min_score]
            if boxes:
                plans.append(FramePlan(index, dets[0][1], boxes, []))
    else:
        plans = [FramePlan(index, dets[0][1], [], [tuple(d[2:7]) for d in dets]) for index, dets in ranked]
        if not plans and klass == NEGATIVE:
            # No box at all: spread frames over the clip.
            count = max(1, round(clip.duration * clip.fps))
            n = min(opts.frames_per_clip, count)
            plans = [
                FramePlan(
                    min(count - 1, int((i + 0.5) * count / n)), round((i + 0.5) * count / n / clip.fps, 3), [], []
                )
                for i in range(n)
            ]
    return plans[: opts.frames_per_clip]


def read_frames(path: str, indices: list[int]) -> dict[int, np.ndarray]:
    """Frames by index. Seeks for a far frame, reads on for a near one (cheaper than a seek,
    which decodes from the previous key frame anyway)."""
    cap = cv2.VideoCapture(path)
    frames: dict[int, np.ndarray] = {}
    try:
        if not cap.isOpened():
            return frames
        pos = 0
        for index in sorted(set(indices)):
            if index < pos or index - pos > 30:
                cap.set(cv2.CAP_PROP_POS_FRAMES, index)
                pos = index
            while pos < index:
                if not cap.grab():
                    break
                pos += 1
            ok, image = cap.read()
            pos += 1
            if ok and image is not None:
                frames[index] = image
    finally:
        cap.release()
    return frames


def _clip_box(box, w: int, h: int):
    x1, y1, x2, y2 = max(0.0, box[0]), max(0.0, box[1]), min(float(w), box[2]), min(float(h), box[3])
    if x2 - x1 < 1 or y2 - y1 < 1:
        return None
    return [round(x1, 2), round(y1, 2), round(x2, 2), round(y2, 2)]


# ----------------------------------------------------------------------------------- writer


class ExportWriter:
    """Accumulates images and their labels into a staging area, then writes the index files."""

    def __init__(self, staging: storage.Staging, opts: ExportOptions):
        self.staging = staging
        self.opts = opts
        self.coco: dict[str, dict] = {s: {"images": [], "annotations": []} for s in SPLITS}
        self.manifest: list[dict] = []
        self.next_image_id = 1
        self.next_ann_id = 1

    def add(self, *, split: str, stem: str, image: np.ndarray, boxes: list, meta: dict) -> dict:
        h, w = image.shape[:2]
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, self.opts.jpeg_quality])
        if not ok:
            raise RuntimeError(f"cannot encode {stem}")
        file_name = f"{stem}.jpg"
        self.staging.put_bytes(f"images/{split}/{file_name}", jpeg.tobytes())
        lines = []
        image_id = self.next_image_id
        self.next_image_id += 1
        coco = self.coco[split]
        coco["images"].append({"id": image_id, "file_name": file_name, "width": w, "height": h})
        for x1, y1, x2, y2 in boxes:
            bw, bh = x2 - x1, y2 - y1
            coco["annotations"].append(
                {
                    "id": self.next_ann_id,
                    "image_id": image_id,
                    "category_id": CATEGORY_ID,
                    "bbox": [round(x1, 2), round(y1, 2), round(bw, 2), round(bh, 2)],
                    "area": round(bw * bh, 2),
                    "iscrowd": 0,
                }
            )
            self.next_ann_id += 1
            lines.append(f"0 {(x1 + bw / 2) / w:.6f} {(y1 + bh / 2) / h:.6f} {bw / w:.6f} {bh / h:.6f}")
        # An empty label file is YOLO's "background image": the negatives say "no person here".
        self.staging.put_bytes(f"labels/{split}/{stem}.txt", ("\n".join(lines) + "\n" if lines else "").encode())
        entry = {
            "image": f"images/{split}/{file_name}",
            "label": f"labels/{split}/{stem}.txt",
            "coco_image_id": image_id,
            "split": split,
            "width": w,
            "height": h,
            "boxes": [list(b) for b in boxes],
            **meta,
        }
        self.manifest.append(entry)
        return entry

    def finish(self, stats: dict) -> None:
        categories = [{"id": CATEGORY_ID, "name": "person", "supercategory": "person"}]
        for split in SPLITS:
            doc = {
                "info": {"description": f"Vigia training set, {split}", "date_created": timezone.now().isoformat()},
                "licenses": [],
                "categories": categories,
                **self.coco[split],
            }
            self.staging.put_bytes(f"annotations/instances_{split}.json", json.dumps(doc).encode())
        # No `path`: readers (Ultralytics) then resolve the folders against this file's own folder.
        data = {"train": "images/train", "val": "images/val", "test": "images/test", "nc": 1, "names": {0: "person"}}
        self.staging.put_bytes("data.yaml", yaml.safe_dump(data, sort_keys=False).encode())
        body = "".join(json.dumps(e, default=str) + "\n" for e in self.manifest)
        self.staging.put_bytes("manifest.jsonl", body.encode())
        self.staging.put_bytes("stats.json", json.dumps(stats, indent=2, sort_keys=True).encode())


def _stats(manifest: list[dict], selection: Selection, splits: dict[str, str], skipped: list[str]) -> dict:
    def by(key):
        return Counter(key(e) for e in manifest)

    return {
        "images": len(manifest),
        "augmented": sum(1 for e in manifest if e["augmentation"]),
        "boxes": sum(len(e["boxes"]) for e in manifest),
        "by_split": dict(by(lambda e: e["split"])),
        "by_split_class": {f"{s}/{k}": n for (s, k), n in by(lambda e: (e["split"], e["class"])).items()},
        "by_class": dict(by(lambda e: e["class"])),
        "by_camera": dict(by(lambda e: e["camera"])),
        "by_tag": dict(Counter(t for e in manifest for t in e["tags"])),
        "clips": {
            POSITIVE: len(selection.positives),
            HARD_NEGATIVE: len(selection.hard_negatives),
            NEGATIVE: len(selection.negatives),
        },
        "clips_available": selection.available,
        "clips_unreadable": skipped,
        "camera_split": splits,
    }


def _build(opts: ExportOptions, selection: Selection, staging: storage.Staging, *, run_id: int | None) -> dict:
    clip_ids = [c.clip_id for c in selection.clips]
    clips = Clip.objects.select_related("camera", "camera__customer").in_bulk(clip_ids)
    clips = {str(k): v for k, v in clips.items()}
    detections: dict[str, list[tuple]] = defaultdict(list)
    for start in range(0, len(clip_ids), 900):
        for row in Detection.objects.filter(clip_id__in=clip_ids[start : start + 900]).values_list(
            "clip_id", "frame_index", "frame_time", "x1", "y1", "x2", "y2", "score", "label"
        ):
            detections[str(row[0])].append(row[1:])
    per_camera = Counter(c.camera for c in selection.clips)
    splits = assign_splits(dict(per_camera), opts.split, opts.seed)

    augmented_klasses = {"negative": (HARD_NEGATIVE, NEGATIVE), "positive": (POSITIVE,), "none": ()}[opts.augment]
    plans = {
        c.clip_id: plan_frames(clips[c.clip_id], c.klass, detections[c.clip_id], opts)
        for c in selection.clips
        if c.clip_id in clips
    }
    copies = _augmentation_plan(selection, plans, splits, augmented_klasses, opts)
    augmenter = Augmenter(seed=opts.seed)

    writer = ExportWriter(staging, opts)
    skipped = [c.clip_id for c in selection.clips if c.clip_id not in clips]  # deleted since the selection
    source_number = 0
    for cand in selection.clips:
        clip = clips.get(cand.clip_id)
        frame_plans = plans.get(cand.clip_id) or []
        if clip is None or not frame_plans:
            continue
        split = splits[cand.camera]
        is_source = split == "train" and cand.klass in augmented_klasses
        try:
            with clip_local_file(clip) as path:
                images = read_frames(path, [p.index for p in frame_plans])
        except FileNotFoundError:
            images = {}
        if not images:
            # One lost or corrupt clip does not sink the export; it is counted in stats.json.
            log.warning("export: clip %s unreadable, skipped", clip.id)
            skipped.append(cand.clip_id)
            source_number += len(frame_plans) if is_source else 0
            continue
        for plan in frame_plans:
            n_copies = copies[source_number] if is_source else 0
            source_number += 1 if is_source else 0
            image = images.get(plan.index)
            if image is None:
                continue
            h, w = image.shape[:2]
            boxes = [b for b in (_clip_box(b, w, h) for b in plan.boxes) if b]
            if cand.klass == POSITIVE and not boxes:
                continue
            false_boxes = [b for b in (_clip_box(b, w, h) for b in plan.false_boxes) if b]
            meta = {
                "class": cand.klass,
                "clip": cand.clip_id,
                "camera": cand.camera,
                "customer": cand.customer_id,
                "recorded_at": clip.recorded_at.isoformat(),
                "clip_score": clip.score,
                "model_version": clip.model_version,
                "review": cand.review_id,
                "tags": list(cand.tags),
                "frame_index": plan.index,
                "frame_time": plan.time,
                "box_scores": [round(b[4], 4) for b in plan.boxes if _clip_box(b, w, h)],
                "false_boxes": false_boxes,
                "augmentation": None,
                "export_run": run_id,
            }
            stem = f"{cand.clip_id}_{plan.index:06d}"
            entry = writer.add(split=split, stem=stem, image=image, boxes=boxes, meta=meta)
            for k in range(1, n_copies + 1):
                result = augmenter(image, [tuple(b) for b in boxes], [tuple(b) for b in false_boxes])
                if result is None:
                    continue  # could not transform without losing a person: one copy fewer
                writer.add(
                    split="train",
                    stem=f"{stem}_aug{k}",
                    image=result.image,
                    boxes=[list(b) for b in result.boxes],
                    meta={
                        **meta,
                        "false_boxes": [list(b) for b in result.false_boxes],
                        "augmentation": {"source": entry["image"], "transforms": result.transforms, "seed": opts.seed},
                    },
                )

    stats = _stats(writer.manifest, selection, splits, skipped)
    writer.finish(stats)
    return stats


def _augmentation_plan(
    selection: Selection, plans: dict, splits: dict, klasses: tuple, opts: ExportOptions
) -> list[int]:
    """How many augmented copies each train source frame of the augmented class gets, in the
    order the export meets them: enough to match the other class's train frames, at most
    `augment_max` each, spread evenly. Planned before any frame is read, so no decoded image
    has to wait in memory for the count to be known."""
    sources = other = 0
    for cand in selection.clips:
        if splits.get(cand.camera) != "train":
            continue
        n = len(plans.get(cand.clip_id) or [])
        if cand.klass in klasses:
            sources += n
        else:
            other += n
    if not sources or not klasses or opts.augment_max <= 0:
        return [0] * sources
    wanted = min(max(0, other - sources), opts.augment_max * sources)
    base, extra = divmod(wanted, sources)
    return [base + (1 if i < extra else 0) for i in range(sources)]


# ---------------------------------------------------------------------------------- service


def export_request(
    *,
    options: dict[str, Any],
    user=None,
    trigger: str = "manual",
    enqueue: bool = True,
    local_only_under: Path | None = None,
) -> ExportRun:
    """Check the options and the selection, then create a queued ExportRun and queue its task
    (unless `enqueue` is False: the caller runs it itself).

    Bad options or an empty selection raise ApplicationError and store nothing."""
    opts = export_options_clean(options, local_only_under=local_only_under)
    export_select(opts)
    with transaction.atomic():
        run = ExportRun.objects.create(params=opts.as_params(), requested_by=user, trigger=trigger)
        run.name = f"{timezone.now():%Y%m%d-%H%M%S}-run{run.id}"
        run.save(update_fields=["name"])
        if enqueue:
            transaction.on_commit(lambda: _enqueue(run.id))
    log.info("export %s queued (%s) by %s", run.id, trigger, user or "schedule")
    return run


def _enqueue(export_id: int) -> None:
    # By the task's name (labeling.export.tasks.run_export): services never import their tasks.
    current_app.send_task("labeling.tasks.run_export", args=[export_id])


def _claim(export_id: int) -> bool:
    """queued -> running. A run still `running` after the task's hard time limit was killed (its
    task redelivered): it may be claimed again and restarts from scratch."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.EXPORT_TIME_LIMIT + 60)
    return bool(
        ExportRun.objects.filter(
            Q(status=ExportRun.Status.QUEUED) | Q(status=ExportRun.Status.RUNNING, started_at__lt=stale), id=export_id
        ).update(status=ExportRun.Status.RUNNING, started_at=now, attempts=F("attempts") + 1, error="")
    )


def export_execute(*, export_id: int) -> ExportRun | None:
    """Run a queued export. Returns None when there was nothing to do (done, failed, or another
    worker has it). Any failure removes what was staged and marks the run failed with the reason."""
    if not _claim(export_id):
        return None
    run = ExportRun.objects.get(id=export_id)
    target = staging = None
    try:
        opts = ExportOptions.from_params(run.params)
        target = storage.parse(opts.out)
        if target.is_complete(run.name):
            # A previous attempt published and died before saying so.
            _finish(run, status=ExportRun.Status.DONE, location=target.location(run.name))
            return run
        selection = export_select(opts)
        staging = target.staged(run.name)
        stats = _build(opts, selection, staging, run_id=run.id)
        location = staging.publish(
            {
                "export_run": run.id,
                "name": run.name,
                "images": stats["images"],
                "completed_at": timezone.now().isoformat(),
                "options": opts.as_params(),
            }
        )
    except BaseException as exc:  # also SoftTimeLimitExceeded and KeyboardInterrupt: clean up, then re-raise those
        if staging is not None:
            staging.abort()
        message = exc.message if isinstance(exc, ApplicationError) else f"{type(exc).__name__}: {exc}"
        _finish(run, status=ExportRun.Status.FAILED, error=message)
        log.error("export %s failed: %s", run.id, message, exc_info=not isinstance(exc, ApplicationError))
        if not isinstance(exc, Exception):
            raise
        return run
    _finish(run, status=ExportRun.Status.DONE, location=location, counts=stats)
    log.info("export %s done: %d images at %s", run.id, stats["images"], location)
    return run


def _finish(run: ExportRun, *, status: str, location: str = "", counts: dict | None = None, error: str = "") -> None:
    run.status, run.finished_at, run.error = status, timezone.now(), error[:4000]
    if location:
        run.location = location
    if counts is not None:
        run.counts = counts
    run.save(update_fields=["status", "finished_at", "error", "location", "counts"])


def scheduled_options() -> dict[str, Any]:
    """The weekly export's options: the settings' defaults over the last EXPORT_SCHEDULE_DAYS."""
    options: dict[str, Any] = dict(settings.EXPORT_SCHEDULE_OPTIONS)
    days = settings.EXPORT_SCHEDULE_DAYS
    if days:
        options.setdefault("since", (timezone.now() - timedelta(days=days)).date().isoformat())
    return options

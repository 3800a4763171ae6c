"""Writing a training set into a staging area (labeling.export.storage publishes it atomically):

    images/{train,val,test}/*.jpg   labels/{train,val,test}/*.txt   data.yaml         (YOLO)
    annotations/instances_{train,val,test}.json                                         (COCO)
    manifest.jsonl   stats.json   (and _COMPLETE, written last by the publication)

Boxes are the detector's person boxes on confirmed-person frames, none on negatives (their boxes
stay in the manifest as `false_boxes`). The scarce class is augmented in train.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict

import cv2
import numpy as np
import yaml
from django.utils import timezone

from labeling.export import storage
from labeling.export.augment import Augmenter
from labeling.export.frames import FramePlan, augmentation_plan, clip_box, plan_frames, read_frames
from labeling.export.options import ExportOptions
from labeling.export.selection import (
    HARD_NEGATIVE,
    NEGATIVE,
    POSITIVE,
    SPLITS,
    Candidate,
    Selection,
    assign_splits,
)
from reviewapp.core.storage import clip_local_file
from reviewapp.review import detail
from reviewapp.review.models import Clip

log = logging.getLogger(__name__)

CATEGORY_ID = 1  # COCO; YOLO class 0
PROGRESS_EVERY = 25  # images between two progress reports (one UPDATE each), not one per image
AUGMENTED = {"negative": (HARD_NEGATIVE, NEGATIVE), "positive": (POSITIVE,), "none": ()}  # by the `augment` option


def export_build(
    opts: ExportOptions, selection: Selection, staging: storage.Staging, *, run_id: int | None, progress=None
) -> dict:
    """Write the selected clips' frames, their augmented copies and the index files into
    `staging`. Returns the stats (also written as stats.json). `progress(done, total)` is called
    with the images planned first, then every PROGRESS_EVERY images written."""
    clips, detections = _clips_and_detections([c.clip_id for c in selection.clips])
    splits = assign_splits(dict(Counter(c.camera for c in selection.clips)), opts.split, opts.seed)
    augmented = AUGMENTED[opts.augment]
    plans = {
        c.clip_id: plan_frames(clips[c.clip_id], c.klass, detections[c.clip_id], opts)
        for c in selection.clips
        if c.clip_id in clips
    }
    copies = augmentation_plan(selection, plans, splits, augmented, opts)
    writer = ExportWriter(staging, opts, run_id=run_id, augmenter=Augmenter(seed=opts.seed), progress=progress)
    writer.planned = sum(len(p) for p in plans.values()) + sum(copies)
    writer.report()
    skipped = [c.clip_id for c in selection.clips if c.clip_id not in clips]  # deleted since the selection
    source_number = 0  # the train frames of the augmented class met so far: the index in `copies`
    for cand in selection.clips:
        clip, frame_plans = clips.get(cand.clip_id), plans.get(cand.clip_id) or []
        if clip is None or not frame_plans:
            continue
        split = splits[cand.camera]
        sources = len(frame_plans) if split == "train" and cand.klass in augmented else 0
        clip_copies = copies[source_number : source_number + sources] or [0] * len(frame_plans)
        source_number += sources
        if not writer.add_clip(cand, clip, split=split, plans=frame_plans, copies=clip_copies):
            skipped.append(cand.clip_id)
    stats = _stats(writer.manifest, selection, splits, skipped)
    writer.finish(stats)
    return stats


def _clips_and_detections(clip_ids: list[str]) -> tuple[dict[str, Clip], dict[str, list[tuple]]]:
    clips = {str(k): v for k, v in Clip.objects.select_related("camera", "camera__customer").in_bulk(clip_ids).items()}
    detections: dict[str, list[tuple]] = defaultdict(list)
    for clip_id, clip in clips.items():  # every box of the clip: its detail, beside the clip's file
        detections[clip_id] = [
            (b.frame_index, b.frame_time, b.x1, b.y1, b.x2, b.y2, b.score, b.label) for b in detail.clip_boxes(clip)
        ]
    return clips, detections


class ExportWriter:
    """Accumulates images and their labels into a staging area, then writes the index files."""

    def __init__(
        self, staging: storage.Staging, opts: ExportOptions, *, run_id: int | None = None, augmenter=None, progress=None
    ):
        self.staging = staging
        self.progress = progress
        self.planned = 0
        self.opts = opts
        self.run_id = run_id
        self.augmenter = augmenter
        self.coco: dict[str, dict] = {s: {"images": [], "annotations": []} for s in SPLITS}
        self.manifest: list[dict] = []
        self.next_image_id = 1
        self.next_ann_id = 1

    def add_clip(self, cand: Candidate, clip: Clip, *, split: str, plans: list[FramePlan], copies: list[int]) -> bool:
        """The clip's planned frames, frame i with copies[i] augmented copies. False: the clip
        could not be read (one lost or corrupt clip does not sink the export; stats count it)."""
        try:
            with clip_local_file(clip) as path:
                images = read_frames(path, [p.index for p in plans])
        except FileNotFoundError:
            images = {}
        if not images:
            log.warning("export: clip %s unreadable, skipped", clip.id)
            return False
        for plan, n_copies in zip(plans, copies):
            image = images.get(plan.index)
            if image is not None:
                self._add_frame(cand, clip, split=split, plan=plan, image=image, n_copies=n_copies)
        return True

    def _add_frame(self, cand: Candidate, clip: Clip, *, split: str, plan: FramePlan, image, n_copies: int) -> None:
        h, w = image.shape[:2]
        boxes = [b for b in (clip_box(b, w, h) for b in plan.boxes) if b]
        if cand.klass == POSITIVE and not boxes:
            return
        false_boxes = [b for b in (clip_box(b, w, h) for b in plan.false_boxes) if b]
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
            "box_scores": [round(b[4], 4) for b in plan.boxes if clip_box(b, w, h)],
            "false_boxes": false_boxes,
            "augmentation": None,
            "export_run": self.run_id,
        }
        stem = f"{cand.clip_id}_{plan.index:06d}"
        entry = self.add(split=split, stem=stem, image=image, boxes=boxes, meta=meta)
        for k in range(1, n_copies + 1):
            result = self.augmenter(image, [tuple(b) for b in boxes], [tuple(b) for b in false_boxes])
            if result is None:
                continue  # could not transform without losing a person: one copy fewer
            self.add(
                split="train",
                stem=f"{stem}_aug{k}",
                image=result.image,
                boxes=[list(b) for b in result.boxes],
                meta={
                    **meta,
                    "false_boxes": [list(b) for b in result.false_boxes],
                    "augmentation": {"source": entry["image"], "transforms": result.transforms, "seed": self.opts.seed},
                },
            )

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
        if len(self.manifest) % PROGRESS_EVERY == 0:
            self.report()
        return entry

    def report(self) -> None:
        if self.progress is not None:
            self.progress(len(self.manifest), max(self.planned, len(self.manifest)))

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

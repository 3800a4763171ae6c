"""Bytes of database per processed clip, on PostgreSQL, before and after the per-frame detail moved
to object storage (#13): a busy scene (people in every frame) and a still one.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/vigia_bench \\
        .venv/bin/python benchmarks/bench_db_size.py [--seconds 60] [--clones 400] [--old-clones 20]

Each scene is made into a real MP4 (the astronaut and the cat of tests/scenes.py on a noisy
background) and processed by the worker (`processing.clip_process`: detector, descriptors,
decision, the detail file, the rows kept). Then the clip is cloned many times in each layout,
and the growth of `pg_total_relation_size` (heap, TOAST and every index) of the clip and
detection tables is divided by the number of clones:

* before: a Detection row for every box of every detected frame, with its descriptor (what
  the worker wrote until 0010_clip_detail; rebuilt here from the detail, box for box);
* after: the clip row (with its `detail` name) and the Detection rows the worker keeps now, and
  the most it can keep (the deciding box and the best box of 5 rules).

Clones carry an external_id (`s3://…`, the by-reference path of #13 part 1) in both layouts.

Also printed: a Detection row's share with and without a descriptor, and the detail file's
bytes per clip and per box (object storage, not database). The database named by
BENCH_DATABASE_URL is migrated and its clip tables emptied: use a throwaway one.
"""

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="bench-db-size-"))
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "reviewapp.project.settings",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vigia_bench"),
        "MEDIA_ROOT": str(TMP / "media"),
        "BROKER_DIR": str(TMP / "broker"),
        "AUDIT_SAMPLE_RATE": "0",
        "LOG_LEVEL": "WARNING",
    }
)

import cv2
import django
import numpy as np

django.setup()

from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from inference.suppression import to_bytes
from reviewapp.review import detail, ingest, processing
from reviewapp.review.models import Camera, Clip, Customer, Detection
from tests import scenes

TABLES = ("reviewapp_clip", "reviewapp_detection")


def write_busy_clip(path: Path, *, seconds: float, fps: int = 10, seed: int = 0) -> Path:
    """People in every frame: four astronauts of different sizes crossing at different speeds."""
    rng = np.random.default_rng(seed)
    bg = scenes.background(1)
    walkers = [(110, 220, 40, 3.0), (90, 180, 200, -2.0), (140, 280, 120, 4.5), (70, 140, 300, -1.5)]
    sprites = [scenes.person(w, h) for w, h, _, _ in walkers]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, scenes.SIZE)
    assert writer.isOpened()
    span = scenes.SIZE[0]
    for i in range(int(seconds * fps)):
        frame = bg
        for (w, h, y, speed), sprite in zip(walkers, sprites):
            x = int((i * speed * 4 + 97 * len(sprite)) % (span - w))
            frame = scenes.paste(frame, sprite, x, min(y, scenes.SIZE[1] - h))
        writer.write(scenes.noisy(frame, rng))
    writer.release()
    return path


def process(camera: Camera, path: Path) -> Clip:
    clip, _ = ingest.clip_ingest(camera=camera, path=str(path), recorded_at=timezone.now())
    started = time.perf_counter()
    processing.clip_process(clip_id=clip.id)
    clip.refresh_from_db()
    print(f"  processed {path.name}: {time.perf_counter() - started:.1f} s, score {clip.score:.3f}")
    return clip


def old_rows(clip: Clip, found: detail.ClipDetail) -> list[Detection]:
    """What `detections_from_frames` wrote before 0010_clip_detail: every box, with its descriptor."""
    return [
        Detection(
            clip=clip, frame_index=f.index, frame_time=f.time, x1=b.x1, y1=b.y1, x2=b.x2, y2=b.y2, score=b.score,
            label=b.label, suppressed_by_id=rules[j],
            descriptor=to_bytes(f.descriptors[j]) if j < len(f.descriptors) and f.descriptors[j] is not None else None,
        )
        for f, rules in zip(found.frames, found.rules)
        for j, b in enumerate(f.boxes)
    ]  # fmt: skip


def sizes() -> dict[str, int]:
    with connection.cursor() as c:
        return {t: c.execute("select pg_total_relation_size(%s)", [t]).fetchone()[0] for t in TABLES}


def empty() -> None:
    with connection.cursor() as c:
        c.execute("truncate reviewapp_detection, reviewapp_clip cascade")


def clone(template: Clip, n: int) -> Clip:
    fields = {f.attname: getattr(template, f.attname) for f in Clip._meta.concrete_fields}
    cid = uuid.uuid4()
    key = f"clips/{template.camera.name}/{template.recorded_at:%Y/%m/%d}/{cid}.mp4"
    fields.update(id=cid, sha256=uuid.uuid4().hex + uuid.uuid4().hex, file=key, external_id=f"s3://vigia-clips/{key}")
    if template.detail:
        fields["detail"] = f"clips/{template.camera.name}/{template.recorded_at:%Y/%m/%d}/{cid}{detail.SUFFIX}"
    return Clip(**fields)


def per_clip(template: Clip, rows_of, count: int) -> tuple[float, float, int]:
    """Bytes of the clip table and of the detection table per clip, over `count` clones, and rows per clip."""
    empty()
    before = sizes()
    rows_total = 0
    for start in range(0, count, 100):
        clips = Clip.objects.bulk_create([clone(template, i) for i in range(start, min(count, start + 100))])
        rows = [r for c in clips for r in rows_of(c)]
        rows_total += len(rows)
        Detection.objects.bulk_create(rows, batch_size=2000)
    after = sizes()
    return (
        (after["reviewapp_clip"] - before["reviewapp_clip"]) / count,
        (after["reviewapp_detection"] - before["reviewapp_detection"]) / count,
        rows_total // count,
    )


def copy_rows(rows: list[Detection]):
    def make(clip: Clip) -> list[Detection]:
        out = []
        for r in rows:
            d = Detection(**{f.attname: getattr(r, f.attname) for f in Detection._meta.concrete_fields})
            d.id, d.clip_id = None, clip.id
            out.append(d)
        return out

    return make


def measure(name: str, clip: Clip, kept: list[Detection], args) -> None:
    found = detail.clip_detail(clip)
    file_bytes = default_storage.size(clip.detail)
    boxes = len(found.boxes)
    described = sum(b.descriptor is not None for b in found.boxes)
    old_template = old_rows(clip, found)
    # Enough clones for the page-sized growth to average out: the clip table over --clones clips
    # (the old clip row had no detail name), the old rows over at least 20,000 of them.
    before_0008 = Clip(**{f.attname: getattr(clip, f.attname) for f in Clip._meta.concrete_fields} | {"detail": ""})
    before_0008.camera = clip.camera
    old_clip, _, _ = per_clip(before_0008, lambda c: [], args.clones)
    old_count = max(args.old_clones, -(-20_000 // max(len(old_template), 1)))
    _, old_det, old_n = per_clip(clip, copy_rows(old_template), min(old_count, 4 * args.clones))
    new_clip, new_det, new_n = per_clip(clip, copy_rows(kept), args.clones)
    # The most rows a clip keeps: the deciding box and the best box of SUMMARY_MAX_RULES rules.
    most = kept[:1] * (1 + detail.SUMMARY_MAX_RULES)
    most_clip, most_det, most_n = per_clip(clip, copy_rows(most), args.clones) if kept else (0, 0, 0)
    old_total, new_total = old_clip + old_det, new_clip + new_det
    print(
        f"{name}: {len(found.frames)} detected frames, {boxes} boxes ({described} with a descriptor), "
        f"detail file {file_bytes} B ({file_bytes / max(boxes, 1):.0f} B a box)\n"
        f"  before: {old_n} Detection rows, {old_total:,.0f} B a clip (clip {old_clip:,.0f} + detections {old_det:,.0f})"
        f", {old_det / max(old_n, 1):.0f} B a row\n"
        f"  after:  {new_n} Detection rows, {new_total:,.0f} B a clip (clip {new_clip:,.0f} + detections {new_det:,.0f})"
        f" -> {'within' if new_total <= 4096 else 'OVER'} 4 KiB, {old_total / max(new_total, 1):.0f}x smaller\n"
        f"  at most (rules suppressed boxes): {most_n} rows, {most_clip + most_det:,.0f} B a clip"
    )


def row_shares(clip: Clip) -> None:
    """One Detection row's share with and without its 784-byte descriptor (10,000 rows each)."""
    found = detail.clip_detail(clip)
    box = next(b for b in found.boxes if b.descriptor is not None)
    template = clone(clip, 0)
    for label, desc in (("with a descriptor", box.descriptor), ("without", None)):
        empty()
        Clip.objects.bulk_create([template])
        before = sizes()["reviewapp_detection"]
        Detection.objects.bulk_create(
            [
                Detection(clip_id=template.id, frame_index=i, frame_time=i / 2, x1=box.x1, y1=box.y1, x2=box.x2,
                          y2=box.y2, score=box.score, descriptor=desc)
                for i in range(10_000)
            ],
            batch_size=2000,
        )  # fmt: skip
        print(
            f"  a Detection row {label}: {(sizes()['reviewapp_detection'] - before) / 10_000:.0f} B (heap, TOAST, 4 indexes)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clones", type=int, default=1000, help="clones per scene and layout")
    parser.add_argument("--old-clones", type=int, default=20, help="at least this many clones with the old rows")
    args = parser.parse_args()
    print(f"database: {connection.settings_dict['NAME']} ({connection.vendor})")
    call_command("migrate", verbosity=0)
    empty()
    customer, _ = Customer.objects.get_or_create(name="bench")
    camera, _ = Camera.objects.get_or_create(customer=customer, name="bench-cam")
    busy = process(camera, write_busy_clip(TMP / "busy.mp4", seconds=args.seconds))
    still = process(camera, scenes.write_scene_clip(TMP / "still.mp4", seconds=args.seconds, fps=10, static=True))
    kept = {c.id: list(c.detections.all()) for c in (busy, still)}  # read before the tables are emptied
    for name, clip in (("busy", busy), ("still", still)):
        measure(name, clip, kept[clip.id], args)
    row_shares(busy)
    empty()


if __name__ == "__main__":
    main()

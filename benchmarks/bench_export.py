"""Exported frames per second of a training-set export, with and without augmentation.

    python benchmarks/bench_export.py [--positives 600] [--hard 200] [--plain 200] [--frames-per-clip 3]
        [--size 640x480] [--augment-max 2]

Builds its own data in a temporary folder (its own SQLite file unless BENCH_DATABASE_URL is
set): a few real 4-second MP4s at the given size, clip rows pointing at them, three person boxes
per confirmed-person clip and three false boxes per false positive, one review each. Then runs the
same export twice into a local folder: `--augment none`, and `--augment negative` (the default:
the scarce negatives are augmented in train until they match the positives). Whole export,
timed: selection, frame decoding (OpenCV seeks), JPEG encoding, augmentation, COCO/YOLO/manifest
writing and the atomic publication.
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TMP = Path(tempfile.mkdtemp(prefix="bench-export-"))
os.environ.update(
    {
        "DJANGO_SETTINGS_MODULE": "reviewapp.project.settings",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL", f"sqlite:///{TMP / 'bench.sqlite3'}"),
        "MEDIA_ROOT": str(TMP / "media"),
        "LOG_LEVEL": "WARNING",
    }
)

import django

django.setup()

from django.core.management import call_command
from django.utils import timezone

from labeling.export import service as export
from labeling.models import ExportRun
from reviewapp.review.models import Camera, Clip, Customer, Detection, Review, ReviewItem, Tag
from tests.factories import clip_detail_write, make_user
from tests.videos import write_video


def make_data(args) -> None:
    w, h = args.width, args.height
    media = Path(os.environ["MEDIA_ROOT"])
    (media / "clips/bench").mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(4):
        write_video(media / f"clips/bench/v{i}.mp4", frames=40, size=(w, h), seed=i)
        files.append(f"clips/bench/v{i}.mp4")
    customers = [Customer.objects.create(name=f"bench-{i}") for i in range(3)]
    cameras = [Camera.objects.create(customer=customers[i % 3], name=f"bench-cam-{i}") for i in range(12)]
    reviewer = make_user(f"bench-{uuid.uuid4().hex[:6]}", "reviewer")
    tags = list(Tag.objects.filter(slug__in=["dog", "insect", "car", "light-shadow"]))
    rng = random.Random(0)
    now = timezone.now()
    kinds = ["person"] * args.positives + ["fp"] * args.hard + ["plain"] * args.plain
    clips, detections, verdicts = [], [], []
    person = (w * 0.1, h * 0.2, w * 0.35, h * 0.9)
    false = (w * 0.6, h * 0.1, w * 0.75, h * 0.3)
    for n, kind in enumerate(kinds):
        clip = Clip(
            id=uuid.uuid4(),
            camera=cameras[n % len(cameras)],
            recorded_at=now,
            file=files[n % len(files)],
            sha256=uuid.uuid4().hex,
            size_bytes=1,
            duration=4.0,
            fps=10.0,
            width=w,
            height=h,
            status=Clip.Status.DONE,
            score=0.6 if kind != "plain" else 0.3,
            alert=kind != "plain",
            model_version="bench",
        )
        clips.append(clip)
        box = person if kind == "person" else false
        for frame in (5, 15, 25):
            detections.append(
                Detection(
                    clip=clip,
                    frame_index=frame,
                    frame_time=frame / 10,
                    x1=box[0],
                    y1=box[1],
                    x2=box[2],
                    y2=box[3],
                    score=0.7 if kind != "plain" else 0.2,
                )
            )
        verdicts.append("person" if kind == "person" else "no_person")
    Clip.objects.bulk_create(clips, batch_size=500)
    # Every box in the clip's detail file, as the worker stores them (the export reads those).
    by_clip: dict = {}
    for d in detections:
        by_clip.setdefault(d.clip_id, []).append(
            {"frame_index": d.frame_index, "frame_time": d.frame_time, "x1": d.x1, "y1": d.y1, "x2": d.x2,
             "y2": d.y2, "score": d.score}
        )  # fmt: skip
    for clip in clips:
        clip_detail_write(clip, by_clip[clip.id])
    items = ReviewItem.objects.bulk_create(
        [ReviewItem(clip=c, reason="near_threshold", priority=1, state="done") for c in clips], batch_size=500
    )
    reviews = Review.objects.bulk_create(
        [Review(item=it, clip_id=it.clip_id, verdict=v, reviewer=reviewer) for it, v in zip(items, verdicts)],
        batch_size=500,
    )
    Review.tags.through.objects.bulk_create(
        [Review.tags.through(review=r, tag=rng.choice(tags)) for r, k in zip(reviews, kinds) if k == "fp"],
        batch_size=1000,
    )


AUGMENT_SECONDS = [0.0]


def _timed_augmenter() -> None:
    """Count the time spent inside the augmentation itself (the transforms), apart from the
    decoding, encoding and writing every frame pays."""
    from labeling.export.augment import Augmenter

    original = Augmenter.__call__

    def timed(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            AUGMENT_SECONDS[0] += time.perf_counter() - t0

    Augmenter.__call__ = timed


def run(options: dict) -> tuple[ExportRun, float]:
    t0 = time.perf_counter()
    run = export.export_request(options=options, trigger="bench", enqueue=False)
    export.export_execute(export_id=run.id)
    elapsed = time.perf_counter() - t0
    run.refresh_from_db()
    if run.status != ExportRun.Status.DONE:
        raise SystemExit(f"export failed: {run.error}")
    return run, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--positives", type=int, default=600)
    parser.add_argument("--hard", type=int, default=200)
    parser.add_argument("--plain", type=int, default=200)
    parser.add_argument("--frames-per-clip", type=int, default=3)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--augment-max", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each mode, alternated; the best is kept")
    args = parser.parse_args()
    args.width, args.height = (int(v) for v in args.size.split("x"))
    try:
        call_command("migrate", verbosity=0)
        t0 = time.perf_counter()
        make_data(args)
        print(
            f"set-up: {args.positives + args.hard + args.plain} reviewed clips ({args.size}) in "
            f"{time.perf_counter() - t0:.1f} s; out {TMP / 'out'}"
        )
        base = {"out": str(TMP / "out"), "frames_per_clip": args.frames_per_clip, "ratio": 1, "easy_share": 0.25}
        _timed_augmenter()
        plain_times, aug_times, aug_inside = [], [], []
        for _ in range(args.repeat):
            plain_run, seconds = run({**base, "augment": "none"})
            plain_times.append(seconds)
            AUGMENT_SECONDS[0] = 0.0
            aug_run, seconds = run({**base, "augment": "negative", "augment_max": args.augment_max})
            aug_times.append(seconds)
            aug_inside.append(AUGMENT_SECONDS[0])
        images = plain_run.counts["images"]
        plain_s = min(plain_times)
        print(
            f"no augmentation:   {images} frames in {plain_s:.1f} s = {images / plain_s:.1f} frames/s "
            f"({plain_run.counts['by_class']}; runs {', '.join(f'{t:.1f}' for t in plain_times)} s)"
        )
        total, augmented = aug_run.counts["images"], aug_run.counts["augmented"]
        aug_s = min(aug_times)
        inside = min(aug_inside)
        print(
            f"with augmentation: {total} frames ({augmented} augmented) in {aug_s:.1f} s = {total / aug_s:.1f} frames/s "
            f"(runs {', '.join(f'{t:.1f}' for t in aug_times)} s); the transforms alone take "
            f"{inside / max(augmented, 1) * 1000:.1f} ms per augmented frame"
        )
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    main()

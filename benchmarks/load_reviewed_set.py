"""Load a labelled clip set (LABELS.csv as for inference.replay) into the database as processed,
reviewed clips, so `manage.py train_verifier` and `manage.py replay_reviewed` have data.

    .venv/bin/python benchmarks/load_reviewed_set.py LABELS.csv [--customer NAME] [--reviewer USERNAME]

Each clip is ingested for its camera (created if needed, at DEFAULT_THRESHOLD), processed by the
pipeline in this process (no worker needed) and given the CSV's verdict as a review. Clips already
in the database (same bytes for the camera) are skipped. For development databases only.
Ingesting also queues each clip for a worker, as every upload does; a worker that takes them
later finds them done and leaves them alone (the filesystem broker takes about a second each).
"""

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.project.settings")

import django

django.setup()

from django.conf import settings
from django.contrib.auth import get_user_model

from inference.labels import read_labels
from reviewapp.review import (
    ingest,
    processing,
    queue,
)
from reviewapp.review.models import Camera, Customer, Profile, Review, ReviewItem


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("labels", type=Path)
    parser.add_argument("--customer", default="Replay")
    parser.add_argument("--reviewer", default="replay-reviewer")
    args = parser.parse_args()
    rows, errors = read_labels(args.labels, required=("clip_file", "person", "camera", "recorded_at"))
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    customer, _ = Customer.objects.get_or_create(name=args.customer)
    user, created = get_user_model().objects.get_or_create(username=args.reviewer)
    if created:
        Profile.objects.create(user=user, role=Profile.Role.REVIEWER)
    loaded = 0
    for row in rows:
        camera, _ = Camera.objects.get_or_create(
            name=row.camera,
            defaults={
                "customer": customer,
                "threshold": settings.DEFAULT_THRESHOLD,
                "review_band": settings.DEFAULT_REVIEW_BAND,
            },
        )
        clip, created = ingest.clip_ingest(
            camera=camera, path=str(args.labels.parent / row.clip_file), recorded_at=row.recorded_at
        )
        if not created:
            continue
        processing.clip_process(clip_id=clip.id)
        item = ReviewItem.objects.filter(clip=clip).first() or queue.review_item_enqueue(
            clip=clip, reason=ReviewItem.Reason.AUDIT_SAMPLE
        )
        Review.objects.create(item=item, clip=clip, reviewer=user, verdict="person" if row.person else "no_person")
        ReviewItem.objects.filter(id=item.id).update(state=ReviewItem.State.DONE)
        loaded += 1
    print(f"{loaded} clips loaded and reviewed ({len(rows) - loaded} already there, {len(errors)} bad rows)")


if __name__ == "__main__":
    main()

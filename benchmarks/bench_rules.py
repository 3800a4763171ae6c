"""From a reviewer's "no person + suppress similar" to the rule taking effect, on this machine.

    .venv/bin/python benchmarks/bench_rules.py [--seconds 60] [--rules 1,10,100]

In-process against a throwaway SQLite database (no broker latency): a camera sees a static
false positive (the cat of tests/scenes.py, 640x480, 15 fps); its first clip alerts; a reviewer
decides "no person" with suppress_similar through the API; the next clip is uploaded and
processed. Prints the decision's own time, the next clip's processing time and whether the rule
suppressed it, then the cost of reading and matching N rules per clip (N = --rules) and of the
descriptors. "Decision to effect" is decision + processing of the next clip: the rule needs no
training, only the next clip to be processed (add the queue wait of a real deployment).
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rules", default="1,10,100")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="vigia-bench-rules-"))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="reviewapp.project.settings",
        DATABASE_URL=f"sqlite:///{tmp / 'db.sqlite3'}",
        MEDIA_ROOT=str(tmp / "media"),
        BROKER_DIR=str(tmp / "broker"),
        AUDIT_SAMPLE_RATE="0",
        SUPPRESSION_AUDIT_RATE="0",
        STATICFILES_BACKEND="django.contrib.staticfiles.storage.StaticFilesStorage",
        LOG_LEVEL="WARNING",
    )
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone
    from rest_framework.test import APIClient

    from inference.detector import load_detector
    from inference.suppression import match_frames
    from reviewapp.review import detail, ingest, processing, queue
    from reviewapp.review.models import Camera, Customer, ReviewItem
    from reviewapp.tuning import suppression
    from reviewapp.tuning.models import SuppressionRule
    from tests.factories import make_user
    from tests.scenes import write_scene_clip

    call_command("migrate", verbosity=0)
    camera = Camera.objects.create(
        customer=Customer.objects.create(name="Bench"), name="bench-cam", threshold=0.1, review_band=0.05
    )
    reviewer = make_user("bench-reviewer", "reviewer")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {reviewer.auth_token.key}")
    load_detector(settings.DETECTOR)  # once per worker process, not per clip

    def process(name, seed):
        path = write_scene_clip(tmp / name, seconds=args.seconds, fps=15, seed=seed)
        clip, _ = ingest.clip_ingest(camera=camera, path=str(path), recorded_at=timezone.now())
        t0 = time.perf_counter()
        processing.clip_process(clip_id=clip.id)
        elapsed = time.perf_counter() - t0
        clip.refresh_from_db()
        return clip, elapsed

    first, first_s = process("1.mp4", 1)
    print(f"clip 1: {args.seconds:g} s, processed in {first_s:.2f} s, score {first.score:.3f}, alert {first.alert}")
    item = queue.review_item_enqueue(clip=first, reason=ReviewItem.Reason.CUSTOMER_REPORT)
    t0 = time.perf_counter()
    response = client.post(
        f"/api/v1/review/{item.id}/decision/",
        {"verdict": "no_person", "tags": ["other"], "suppress_similar": True},
        format="json",
    )
    decision_s = time.perf_counter() - t0
    assert response.status_code == 201, response.content
    rule = SuppressionRule.objects.get()
    print(
        f"decision with suppress_similar (API, review + rule in one transaction): {decision_s * 1000:.0f} ms; rule {rule.id}"
    )

    second, second_s = process("2.mp4", 2)
    suppressed = sum(b.suppressed_by_id == rule.id for b in detail.clip_boxes(second))
    print(
        f"clip 2 processed in {second_s:.2f} s: score {second.score:.3f}, alert {second.alert}, "
        f"{suppressed} detection(s) suppressed by rule {rule.id} (would have scored {second.suppressed_score:.3f})"
    )
    print(f"decision to effect (decision + next clip processed, no queue wait): {decision_s + second_s:.2f} s")

    # The per-clip cost of rules: read them fresh, match every box of every detected frame.
    from inference.pipeline import detect_clip

    path = tmp / "2.mp4"
    result = detect_clip(
        path,
        load_detector(settings.DETECTOR),
        sample_fps=settings.SAMPLE_FPS,
        min_change=settings.MIN_CHANGE,
        max_still_s=settings.MAX_STILL_SECONDS,
        describe_min_score=suppression.rule_source_cutoff(camera),
    )
    boxes = sum(len(f.boxes) for f in result.frames)
    described = sum(d is not None for f in result.frames for d in f.descriptors)
    print(
        f"descriptors: {described} of {boxes} boxes in {len(result.frames)} detected frames, "
        f"{result.describe_s * 1000:.1f} ms per clip (detector: {result.detect_s * 1000:.0f} ms)"
    )
    template = SuppressionRule.objects.values().get(id=rule.id)
    import random

    rng = random.Random(0)
    # The other rules at other places, and the real rule tried last: every box is compared with
    # every rule, the worst case.
    for n in [int(x) for x in args.rules.split(",")]:
        SuppressionRule.objects.exclude(id=rule.id).delete()
        extra = []
        for _ in range(n - 1):
            row = {k: v for k, v in template.items() if k != "id"}
            x, y = rng.uniform(0, 0.3), rng.uniform(0, 0.3)
            row.update(x1=x, y1=y, x2=x + 0.1, y2=y + 0.3)
            extra.append(SuppressionRule(**row))
        SuppressionRule.objects.bulk_create(extra)
        t0 = time.perf_counter()
        for _ in range(20):
            rules = suppression.rules_for_camera(camera=camera)
        read_ms = (time.perf_counter() - t0) / 20 * 1000
        t0 = time.perf_counter()
        for _ in range(20):
            match_frames(rules[::-1], [(f.boxes, f.descriptors, f.size) for f in result.frames])
        match_ms = (time.perf_counter() - t0) / 20 * 1000
        print(f"{n:4d} rule(s) on the camera: read {read_ms:.1f} ms + match {match_ms:.2f} ms per clip")

    # The descriptors' cost where it is highest: a panning view, every sampled frame detected.
    from reviewapp.review.demo import photo, write_clip

    pan = write_clip(tmp / "pan.mp4", photo("astronaut"), seconds=args.seconds, fps=15, size=(640, 480))
    for describe_boxes in (False, True):
        r = detect_clip(
            pan,
            load_detector(settings.DETECTOR),
            sample_fps=settings.SAMPLE_FPS,
            min_change=settings.MIN_CHANGE,
            max_still_s=settings.MAX_STILL_SECONDS,
            describe_boxes=describe_boxes,
            describe_min_score=0.0,
        )  # the lowest floor (a threshold within the jitter of 0): worst case
        described = sum(d is not None for f in r.frames for d in f.descriptors)
        print(
            f"pan clip, descriptors {'on ' if describe_boxes else 'off'}: decode {r.decode_s:.2f} s, detect {r.detect_s:.2f} s, "
            f"describe {r.describe_s * 1000:.0f} ms for {described} boxes "
            f"({r.describe_s / max(described, 1) * 1000:.2f} ms a box; "
            f"{r.describe_s / max(r.decode_s + r.detect_s, 1e-9):.1%} of decode + detect)"
        )


if __name__ == "__main__":
    main()

"""The issue's camera through the worker and the real detector (CenterNet 320, onnxruntime) at
threshold 0.12 (and 0.14; at 0.3 and 0.6 with scripted scores on the real pixels): a still
view whose objects score around it and drift from minute to minute (tests/scenes.py: noise,
light, sway, compression). One "no person + suppress similar", then ten
later minutes without an alert, while a person crossing the cat, a person half hidden at the
frame's edge and a small distant person still alert."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reviewapp.review import ingest, processing, queue
from reviewapp.review.models import Clip, Review, ReviewItem
from reviewapp.tuning.models import SuppressionRule
from tests import scenes
from tests.conftest import api_client


@pytest.fixture(params=[0.12, 0.14])
def camera(world, request):
    # 0.12: the camera; 0.14: where the old floor (never under threshold - band = 0.12)
    # missed the blob, which scores 0.120 in the reviewed minute and up to 0.158 later.
    world.cam_a.threshold, world.cam_a.review_band = request.param, 0.02
    world.cam_a.save()
    return world.cam_a


def process(camera, path, minute):
    clip, created = ingest.clip_ingest(
        camera=camera, path=str(path), recorded_at=timezone.now() - timedelta(minutes=60 - minute)
    )
    assert created
    processing.clip_process(clip_id=clip.id)
    clip.refresh_from_db()
    assert clip.status == Clip.Status.DONE, clip.error
    return clip


def review_first_minute(world, camera, tmp_path):
    first = process(camera, scenes.write_minute_clip(tmp_path / "m0.mp4", 0), 0)
    assert first.alert, "the still view is a false alert"
    item = queue.review_item_enqueue(clip=first, reason=ReviewItem.Reason.CUSTOMER_REPORT)
    response = api_client(world.reviewer).post(
        f"/api/v1/review/{item.id}/decision/",
        {"verdict": "no_person", "tags": ["other"], "suppress_similar": True},
        format="json",
    )
    assert response.status_code == 201, response.content
    return SuppressionRule.objects.filter(source_review=Review.objects.get(id=response.json()["id"]))


def test_one_review_silences_the_recurring_objects_and_people_still_alert(world, camera, tmp_path):
    rules = review_first_minute(world, camera, tmp_path)
    assert rules.count() >= 3, "the cat, the cut-off cat and the blob: one rule each"

    for m in range(1, 11):
        clip = process(camera, scenes.write_minute_clip(tmp_path / f"m{m}.mp4", m), m)
        assert not clip.alert, f"minute {m} alerted at {clip.score:.3f}"
        assert clip.suppressed_score >= camera.threshold or clip.score < camera.threshold

    for m, kind in enumerate(scenes.PEOPLE, start=11):
        clip = process(camera, scenes.write_minute_clip(tmp_path / f"{kind}.mp4", m, person=kind), m)
        assert clip.alert, f"the {kind} person did not alert (score {clip.score:.3f})"
        best = clip.detections.filter(suppressed_by__isnull=True).order_by("-score").first()
        assert best is not None and best.score == pytest.approx(clip.score)
        assert clip.score >= 0.2, f"the {kind} person, not a left-over object, makes it alert"


def test_with_the_old_constant_floor_a_later_minute_alerts(world, settings, tmp_path):
    """The test above can fail: at 0.14 with no jitter margin (the old floor, threshold - band =
    0.12 here), the blob's 0.120 in the reviewed minute makes no rule and a later minute alerts."""
    settings.SUPPRESSION_JITTER = 0.0
    world.cam_a.threshold, world.cam_a.review_band = 0.14, 0.02
    world.cam_a.save()
    review_first_minute(world, world.cam_a, tmp_path)
    alerted = None
    for m in range(1, 11):
        if process(world.cam_a, scenes.write_minute_clip(tmp_path / f"m{m}.mp4", m), m).alert:
            alerted = m
            break
    assert alerted is not None


class Scripted:
    """The worker's detector for thresholds the real one cannot be made to sit at (0.3, 0.6):
    the boxes and scores of tests/inference/test_recurring.py (static objects drifting by up to
    the jitter around the threshold, the person where their sprite is pasted), given frame by
    frame in the order the pipeline samples them (2 fps of a 10 fps clip, every frame detected).
    The pixels, hence the descriptors, are the real clip's."""

    name = "scripted"
    version = "scripted-1"

    def start(self, threshold: float, minute: int, person: str = "") -> None:
        import numpy as np

        self.threshold, self.minute, self.person = threshold, minute, person
        self.rng, self.calls = np.random.default_rng(100 + minute), 0

    def detect(self, frames):
        from tests.inference.test_recurring import person_box, static_boxes

        out = []
        for _ in frames:
            boxes = static_boxes(self.rng, self.threshold, self.minute)
            p = person_box(self.person, 5 * self.calls / 39, self.threshold) if self.person else None
            out.append(boxes + ([p] if p is not None else []))
            self.calls += 1
        return out


@pytest.mark.parametrize("threshold", [0.3, 0.6])
def test_the_worker_silences_them_at_higher_thresholds_too(world, settings, monkeypatch, tmp_path, threshold):
    from inference import detector as registry

    scripted = Scripted()
    monkeypatch.setitem(registry._LOADED, "scripted", scripted)
    settings.DETECTOR, settings.MIN_CHANGE = "scripted", 0.0
    camera = world.cam_a
    camera.threshold, camera.review_band = threshold, 0.02
    camera.save()
    scripted.start(threshold, 0)
    rules = review_first_minute(world, camera, tmp_path)
    assert rules.count() == 3
    for m in range(1, 11):
        scripted.start(threshold, m)
        clip = process(camera, scenes.write_minute_clip(tmp_path / f"m{m}.mp4", m), m)
        assert not clip.alert, f"minute {m} alerted at {clip.score:.3f}"
    for m, kind in enumerate(scenes.PEOPLE, start=11):
        scripted.start(threshold, m, kind)
        clip = process(camera, scenes.write_minute_clip(tmp_path / f"{kind}.mp4", m, person=kind), m)
        assert clip.alert, f"the {kind} person did not alert"
        people = clip.detections.filter(score__gte=threshold + 0.09)  # only the person scores that much
        assert people.exists() and not people.filter(suppressed_by__isnull=False).exists(), kind

"""Suppression rules end to end: real videos through the real detector (CenterNet), a reviewer's
"no person + suppress similar", and the next clips of the same and of another camera."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inference.detector import load_detector
from inference.suppression import iou, normalise_box
from reviewapp.review import detail, ingest, processing, queue
from reviewapp.review.models import Clip, Review, ReviewItem
from reviewapp.tuning.models import SuppressionRule
from tests.conftest import api_client
from tests.scenes import OBJECT_BOX, SIZE, write_scene_clip

RULE_BOX = normalise_box(OBJECT_BOX, SIZE)


@pytest.fixture
def cameras(world):
    # The cat scores about 0.13 as a person: a low threshold makes it a (recurring) false alert.
    for cam in (world.cam_a, world.cam_b):
        cam.threshold, cam.review_band = 0.1, 0.05
        cam.save()
    return world


def process(camera, path, minutes_ago=0):
    clip, created = ingest.clip_ingest(
        camera=camera, path=str(path), recorded_at=timezone.now() - timedelta(minutes=minutes_ago)
    )
    assert created
    processing.clip_process(clip_id=clip.id)
    clip.refresh_from_db()
    assert clip.status == Clip.Status.DONE, clip.error
    return clip


def suppressed_in(clip, rule=None) -> list:
    """The boxes of the clip's detail a rule (this one, or any) suppressed."""
    return [
        b
        for b in detail.clip_boxes(clip)
        if b.suppressed_by_id is not None and (rule is None or b.suppressed_by_id == rule.id)
    ]


def decide_suppress(world, clip):
    item = queue.review_item_enqueue(clip=clip, reason=ReviewItem.Reason.CUSTOMER_REPORT)
    response = api_client(world.reviewer).post(
        f"/api/v1/review/{item.id}/decision/",
        {"verdict": "no_person", "tags": ["other"], "suppress_similar": True},
        format="json",
    )
    assert response.status_code == 201, response.content
    return Review.objects.get(id=response.json()["id"])


def test_a_static_false_positive_is_suppressed_on_its_camera_only_not_for_a_person_and_not_after_expiry(
    cameras, tmp_path
):
    w = cameras
    first = process(w.cam_a, write_scene_clip(tmp_path / "1.mp4", seed=1), minutes_ago=10)
    assert first.alert is True, "the cat is a false alert on this camera"
    assert not suppressed_in(first)

    review = decide_suppress(w, first)
    rule = SuppressionRule.objects.get()
    assert (rule.camera, rule.source_review, rule.source_clip, rule.created_by) == (w.cam_a, review, first, w.reviewer)
    assert rule.active and not rule.flagged and rule.hits == 0
    assert timedelta(days=29) < rule.expires_at - timezone.now() <= timedelta(days=30)
    assert iou(rule.box, RULE_BOX) > 0.7, "the rule is where the cat is"

    # The next clip of the same camera: the same cat, new noise, a little darker.
    second = process(w.cam_a, write_scene_clip(tmp_path / "2.mp4", seed=2, gain=0.9), minutes_ago=9)
    assert second.alert is False and second.score < w.cam_a.threshold
    suppressed = suppressed_in(second, rule)
    assert suppressed, "kept and marked (in the clip's detail), not dropped"
    assert second.suppressed_score == pytest.approx(max(b.score for b in suppressed))
    # The database keeps the best box the rule suppressed (the rules page, a later flag), not every one.
    (kept,) = second.detections.filter(suppressed_by=rule)
    assert kept.score == pytest.approx(second.suppressed_score)
    assert second.suppressed_score >= w.cam_a.threshold  # it would have alerted
    rule.refresh_from_db()
    assert rule.hits == 1 and rule.last_hit_at is not None

    # Another camera with the very same view: not its rule.
    other = process(w.cam_b, write_scene_clip(tmp_path / "3.mp4", seed=3), minutes_ago=8)
    assert other.alert is True and not suppressed_in(other)

    # A person standing where the cat is, on the rule's camera, still alerts.
    walker = process(w.cam_a, write_scene_clip(tmp_path / "4.mp4", seed=4, walker=True), minutes_ago=7)
    assert walker.alert is True and walker.score >= 0.3
    at_the_spot = [
        d
        for d in detail.clip_boxes(walker)
        if d.score >= 0.3 and iou(normalise_box((d.x1, d.y1, d.x2, d.y2), SIZE), rule.box) >= rule.iou_min
    ]
    assert at_the_spot, "the person was detected at the rule's place..."
    assert all(d.suppressed_by_id is None for d in at_the_spot), "...and not suppressed: they do not look like the cat"

    # Once the rule has expired, the cat alerts again.
    SuppressionRule.objects.filter(id=rule.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    later = process(w.cam_a, write_scene_clip(tmp_path / "5.mp4", seed=5), minutes_ago=6)
    assert later.alert is True and not suppressed_in(later)


def test_a_disabled_rule_suppresses_nothing(cameras, tmp_path):
    w = cameras
    decide_suppress(w, process(w.cam_a, write_scene_clip(tmp_path / "1.mp4", seed=1)))
    SuppressionRule.objects.update(active=False)
    again = process(w.cam_a, write_scene_clip(tmp_path / "2.mp4", seed=2))
    assert again.alert is True and not suppressed_in(again)


def test_a_rule_whose_suppressed_clip_is_confirmed_as_a_person_is_flagged_and_paused(cameras, tmp_path, settings):
    w = cameras
    decide_suppress(w, process(w.cam_a, write_scene_clip(tmp_path / "1.mp4", seed=1)))
    rule = SuppressionRule.objects.get()
    hidden = process(w.cam_a, write_scene_clip(tmp_path / "2.mp4", seed=2))
    assert suppressed_in(hidden, rule)

    item = queue.review_item_enqueue(clip=hidden, reason=ReviewItem.Reason.AUDIT_SAMPLE)
    response = api_client(w.reviewer2).post(f"/api/v1/review/{item.id}/decision/", {"verdict": "person"}, format="json")
    assert response.status_code == 201
    rule.refresh_from_db()
    assert rule.flagged and rule.flagged_at and str(hidden.id) in rule.flag_reason and "rob" in rule.flag_reason
    # Paused while flagged: the next clip alerts again.
    again = process(w.cam_a, write_scene_clip(tmp_path / "3.mp4", seed=3))
    assert again.alert is True
    page = None
    from django.test import Client

    client = Client()
    client.force_login(w.reviewer)
    page = client.get("/rules/?show=flagged").content.decode()
    assert f'id="rule-{rule.id}"' in page and "flagged" in page and str(hidden.id) in page


def test_the_person_at_the_spot_is_told_apart_by_appearance_alone(cameras, tmp_path):
    """Prove the appearance test is what saves the person: with the same rule but no appearance
    tolerance, the person at the spot would have been suppressed."""
    w = cameras
    decide_suppress(w, process(w.cam_a, write_scene_clip(tmp_path / "1.mp4", seed=1)))
    SuppressionRule.objects.update(similarity_min=0.0)
    walker = process(w.cam_a, write_scene_clip(tmp_path / "4.mp4", seed=4, walker=True))
    rule = SuppressionRule.objects.get()
    assert any(b.score >= 0.3 for b in suppressed_in(walker, rule))


# ------------------------------------------------- the worker and the replay: one decision


def replay_decision(camera, clip, frames, settings):
    """The replay's +suppression strategy on these frames, with the camera's rules as they are now."""
    from inference import simulation
    from reviewapp.tuning.suppression import rules_for_camera

    strategy = simulation.Strategy("+suppression", suppression=True)
    strategy.rules[camera.name] = rules_for_camera(camera=camera)
    cfg = simulation.Config(
        threshold=camera.threshold,
        sample_fps=settings.SAMPLE_FPS,
        review_band=camera.review_band,
        jitter=settings.SUPPRESSION_JITTER,
    )
    data = simulation.ClipData(str(clip.id), camera.name, clip.recorded_at, False, frames, clip.frames_sampled)
    decision, threshold = simulation.decide(strategy, data, cfg, None)
    assert threshold == camera.threshold
    return decision


def test_the_worker_and_the_replay_decide_the_same_frames_alike(cameras, tmp_path, settings):
    """The same boxes, descriptors, rules and threshold through the worker (clip_process on a real
    clip) and through the replay give the same decision: alert, score, which boxes suppressed."""
    from inference import defaults
    from inference.labels import Row, detect_row
    from reviewapp.tuning.suppression import rule_source_cutoff

    w = cameras
    decide_suppress(w, process(w.cam_a, write_scene_clip(tmp_path / "1.mp4", seed=1), minutes_ago=10))
    cat = process(w.cam_a, write_scene_clip(tmp_path / "2.mp4", seed=2, gain=0.9), minutes_ago=9)
    walker = process(w.cam_a, write_scene_clip(tmp_path / "4.mp4", seed=4, walker=True), minutes_ago=7)
    assert (cat.alert, walker.alert) == (False, True), "one clip the rule silences, one it must not"
    for clip, name in ((cat, "2.mp4"), (walker, "4.mp4")):
        # The frames the worker decided, exactly: its stored boxes and descriptors.
        found = detail.clip_detail(clip)
        frames, rows = found.frames, found.rows()
        decision = replay_decision(w.cam_a, clip, frames, settings)
        assert (decision.alert, decision.score) == (clip.alert, pytest.approx(clip.score))
        assert decision.suppressed_score == pytest.approx(clip.suppressed_score)
        by_worker = {d.id: d.suppressed_by_id for ds in rows for d in ds}
        by_replay = {d.id: decision.suppressed_by[i][j] for i, ds in enumerate(rows) for j, d in enumerate(ds)}
        assert by_replay == by_worker
        assert any(by_worker.values()), "the rule suppressed boxes in both clips"
        if clip is walker:
            scores = {b.id: b.score for b in found.boxes}
            assert None in {r for d, r in by_worker.items() if scores[d] >= 0.3}

        # The replay's own detection of the same file gives the same frames, hence the same decision.
        assert (settings.DETECT_BATCH, settings.MAX_STILL_SECONDS) == (
            defaults.DETECT_BATCH,
            defaults.MAX_STILL_SECONDS,
        )
        row = Row(1, name, False, w.cam_a.name, clip.recorded_at)
        own = detect_row(
            tmp_path,
            row,
            load_detector(settings.DETECTOR),
            fps=settings.SAMPLE_FPS,
            min_change=settings.MIN_CHANGE,
            describe_min_score=rule_source_cutoff(w.cam_a),
        )
        seen = [f for f in own.frames if f.boxes]
        assert [(f.index, f.boxes) for f in seen] == [(f.index, f.boxes) for f in frames]
        again = replay_decision(w.cam_a, clip, seen, settings)
        assert (again.alert, again.score, again.suppressed_by) == (
            decision.alert,
            decision.score,
            decision.suppressed_by,
        )

"""train_verifier, replay_reviewed and the verifier in the pipeline, on real clip files."""

import json
from datetime import timedelta
from io import StringIO
from pathlib import Path

import cv2
import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from inference import tracking, verifier
from reviewapp.review import ingest, processing
from reviewapp.review.demo import photo
from reviewapp.review.models import Clip, Review, ReviewItem
from tests.factories import CameraFactory, ClipFactory, ReviewItemFactory, clip_detail_write

PERSON_BOX = (40, 40, 200, 400)  # where the astronaut is in every frame
POSTER_BOX = (400, 60, 560, 420)  # where the sepia print is


def scene_video(path: Path, *, seed: int, frames: int = 6) -> Path:
    """A 640x480 clip: a colour astronaut on the left, a sepia print of the coffee photo on the right."""
    rng = np.random.default_rng(seed)
    base = np.full((480, 640, 3), 90, np.uint8)
    x1, y1, x2, y2 = PERSON_BOX
    base[y1:y2, x1:x2] = cv2.resize(photo("astronaut")[0:512, 60:420], (x2 - x1, y2 - y1))
    x1, y1, x2, y2 = POSTER_BOX
    grey = cv2.cvtColor(cv2.resize(photo("coffee"), (x2 - x1, y2 - y1)), cv2.COLOR_BGR2GRAY)[..., None]
    base[y1:y2, x1:x2] = np.clip(grey * np.array([0.6, 0.8, 1.1]), 0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 5, (640, 480))
    for _ in range(frames):
        writer.write(np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8))
    writer.release()
    return path


def reviewed_clip(camera, reviewer, *, person: bool, n: int, settings):
    """A done clip with its file on disk, one detection per frame (on the astronaut for a person clip,
    on the print otherwise, which scores above the camera's threshold) and a review."""
    clip = ClipFactory(
        camera=camera,
        recorded_at=timezone.now() - timedelta(hours=10) + timedelta(minutes=n),
        fps=5.0,
        duration=1.2,
        score=0.6,
        alert=True,
    )
    scene_video(Path(settings.MEDIA_ROOT) / clip.file.name, seed=n)
    box = PERSON_BOX if person else POSTER_BOX
    clip_detail_write(
        clip,
        [
            {
                "frame_index": i,
                "frame_time": i / 5,
                "x1": box[0],
                "y1": box[1],
                "x2": box[2],
                "y2": box[3],
                "score": 0.6,
            }
            for i in range(6)
        ],
    )
    item = ReviewItemFactory(clip=clip, state=ReviewItem.State.DONE)
    Review.objects.create(item=item, clip=clip, reviewer=reviewer, verdict="person" if person else "no_person")
    return clip


@pytest.fixture
def mlflow_uri(settings, tmp_path):
    settings.MLFLOW_TRACKING_URI = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    return settings.MLFLOW_TRACKING_URI


@pytest.fixture
def reviewed(world, settings):
    cameras = [world.cam_a, world.cam_b, CameraFactory(customer=world.acme, name="acme-yard")]
    clips = []
    for cam in cameras:
        for n in range(4):
            clips.append(reviewed_clip(cam, world.reviewer, person=n % 2 == 0, n=len(clips), settings=settings))
    return clips


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_train_verifier_tracks_registers_and_promotes_a_model_that_removes_false_alerts(reviewed, mlflow_uri):
    output = run("train_verifier", "--holdout", "acme-yard", "--epochs", "12")
    assert "held out acme-yard" in output and "registered version 1: PROMOTED" in output
    assert tracking.production_version(tracking_uri=mlflow_uri) == "1"
    c = tracking.client(mlflow_uri)
    (run_,) = c.search_runs([c.get_experiment_by_name(tracking.EXPERIMENT).experiment_id])
    assert run_.data.params["holdout_cameras"] == "acme-yard"
    assert run_.data.params["train_cameras"] == "acme-door,globex-gate"
    assert run_.data.metrics["holdout_baseline_fp"] == 2 and run_.data.metrics["holdout_candidate_fp"] == 0
    assert run_.data.metrics["holdout_candidate_tp"] == 2
    assert run_.data.tags["promotion"] == "promoted"
    export = Path(c.download_artifacts(run_.info.run_id, "data/examples.csv", str(Path(mlflow_uri[10:]).parent / "dl")))
    lines = export.read_text().splitlines()
    assert lines[0].startswith("clip_id,camera") and len(lines) == 1 + 12 * 6

    # The same data again: no fewer false alerts than the production model -> refused, alias kept.
    output = run("train_verifier", "--holdout", "acme-yard", "--epochs", "12")
    assert "registered version 2: not promoted: no fewer false alerts" in output
    assert tracking.production_version(tracking_uri=mlflow_uri) == "1"
    assert c.get_model_version(tracking.MODEL_NAME, "2").tags["promotion"] == "refused"


def test_train_verifier_without_reviews_or_with_an_unknown_holdout_says_why(world, reviewed, mlflow_uri):
    with pytest.raises(CommandError, match="no reviewed clips for held-out camera"):
        run("train_verifier", "--holdout", "nope")
    Review.objects.all().delete()
    with pytest.raises(CommandError, match="no reviewed clips yet"):
        run("train_verifier")
    assert not Path(mlflow_uri[10:]).exists()  # nothing logged for a run that never trained


def test_a_clip_whose_file_is_gone_is_left_out_of_the_training_data(reviewed, mlflow_uri, settings):
    gone = reviewed[0]
    (Path(settings.MEDIA_ROOT) / gone.file.name).unlink()
    output = run("train_verifier", "--holdout", "acme-yard", "--epochs", "2", "--no-promote")
    assert "not promoted" in output
    assert tracking.production_version(tracking_uri=mlflow_uri) is None  # --no-promote never moves the alias
    c = tracking.client(mlflow_uri)
    (run_,) = c.search_runs([c.get_experiment_by_name(tracking.EXPERIMENT).experiment_id])
    assert run_.data.params["train_examples"] == str(7 * 6)  # 8 training clips, one without its file


def test_replay_reviewed_writes_the_labels_and_replays_them(reviewed, settings, tmp_path, capsys):
    settings.DETECTOR = "hog"  # the replay's own detector; fast, and the contract is what is tested
    call_command("replay_reviewed", "--out", str(tmp_path / "replay"), "--", "--strategies", "threshold,+suppression")
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    assert set(summary["strategies"]) == {"threshold", "+suppression"}
    assert summary["clips"] == 12
    c = summary["strategies"]["threshold"]
    assert c["tp"] + c["fn"] == 6 and c["fp"] + c["tn"] == 6
    labels = (tmp_path / "replay" / "labels.csv").read_text().splitlines()
    assert labels[0] == "clip_file,person,camera,recorded_at,clip_id" and len(labels) == 13


def test_replay_reviewed_with_nothing_reviewed_is_an_error(db, tmp_path):
    with pytest.raises(CommandError, match="nothing to replay"):
        call_command("replay_reviewed", "--out", str(tmp_path / "replay"))


# ------------------------------------------------------------------------- in the pipeline


def model_file(path: Path, *, threshold: float) -> Path:
    """A verifier whose threshold makes it accept everything (0) or nothing (above 1)."""
    result = verifier.TrainResult(verifier.VerifierNet().eval(), threshold, [], 0.0)
    return verifier.save(result, path)


@pytest.fixture
def astronaut_clip(world, tmp_path):
    from reviewapp.review.demo import write_clip

    world.cam_a.threshold = 0.2
    world.cam_a.save()
    path = write_clip(tmp_path / "astronaut.mp4", photo("astronaut"), seconds=2, fps=10)
    clip, _ = ingest.clip_ingest(camera=world.cam_a, path=str(path), recorded_at=timezone.now())
    return clip


def test_a_verifier_that_rejects_the_boxes_vetoes_the_alert_and_sends_the_clip_to_review(
    astronaut_clip, settings, tmp_path
):
    settings.VERIFIER = str(model_file(tmp_path / "never.pt", threshold=1.01))
    processing.clip_process(clip_id=astronaut_clip.id)
    clip = Clip.objects.get(id=astronaut_clip.id)
    assert clip.score >= 0.2, "the detector alone would alert"
    assert clip.alert is False
    assert ReviewItem.objects.get(clip=clip).reason == ReviewItem.Reason.NEAR_THRESHOLD
    assert clip.verifier_version.startswith("file:")


def test_a_verifier_that_accepts_lets_the_alert_through(astronaut_clip, settings, tmp_path):
    settings.VERIFIER = str(model_file(tmp_path / "always.pt", threshold=0.0))
    processing.clip_process(clip_id=astronaut_clip.id)
    assert Clip.objects.get(id=astronaut_clip.id).alert is True


def test_a_configured_verifier_that_cannot_load_fails_the_clip_with_the_reason(astronaut_clip, settings, tmp_path):
    from reviewapp.review import tasks

    settings.VERIFIER = str(tmp_path / "missing.pt")
    tasks.process_clip.run(str(astronaut_clip.id))
    clip = Clip.objects.get(id=astronaut_clip.id)
    assert clip.status == Clip.Status.FAILED and "VerifierUnavailable" in clip.error and "missing.pt" in clip.error


def test_with_a_single_camera_there_is_nothing_held_out_and_no_promotion(world, reviewed, mlflow_uri):
    Review.objects.exclude(clip__camera=world.cam_a).delete()
    output = run("train_verifier", "--epochs", "2")
    assert "held out none" in output and "not promoted: no held-out camera" in output
    assert tracking.production_version(tracking_uri=mlflow_uri) is None


def test_the_held_out_evaluation_decides_with_the_rules_that_existed_before_the_clip(world):
    """clip_alerts decides through decide_clip with the camera's rules as they were when the clip
    was processed: a rule made later, or paused before, does not suppress it."""
    from inference.suppression import DESCRIPTOR_VERSION, normalise_box, to_bytes
    from reviewapp.tuning.models import SuppressionRule
    from reviewapp.tuning.verifier_training import ClipBoxes, clip_alerts

    processed = timezone.now() - timedelta(hours=1)
    clip = ClipFactory(camera=world.cam_a, started_at=processed)  # threshold 0.5
    look = to_bytes(np.ones(16, np.float32) / 4)
    clip_detail_write(
        clip,
        [
            {
                "frame_index": 0,
                "frame_time": 0,
                "x1": 400,
                "y1": 60,
                "x2": 560,
                "y2": 420,
                "score": 0.6,
                "descriptor": look,
            }
        ],
    )
    x1, y1, x2, y2 = normalise_box(POSTER_BOX, (640, 480))
    rule = SuppressionRule.objects.create(
        camera=world.cam_a,
        x1=x1,
        y1=y1,
        x2=x2,
        y2=y2,
        descriptor=look,
        descriptor_version=DESCRIPTOR_VERSION,
        iou_min=0.5,
        similarity_min=0.85,
        source_score=0.6,
    )
    rules = SuppressionRule.objects.filter(id=rule.id)
    boxes = ClipBoxes(clip, False, 0.5)
    assert clip_alerts(boxes, None) is True, "the rule was made after the clip: no look-ahead"
    rules.update(created_at=processed - timedelta(minutes=1))
    assert clip_alerts(boxes, None) is False, "made before: it suppressed the clip"
    rules.update(flagged=True, flagged_at=processed - timedelta(seconds=30))
    assert clip_alerts(boxes, None) is True, "flagged, so paused, before the clip"
    rules.update(flagged=False, flagged_at=None, active=False, updated_at=processed - timedelta(seconds=10))
    assert clip_alerts(boxes, None) is True, "switched off before the clip"
    rules.update(updated_at=processed + timedelta(minutes=5))
    assert clip_alerts(boxes, None) is False, "switched off after it: it applied then"
    rules.update(active=True, expires_at=processed - timedelta(seconds=1))
    assert clip_alerts(boxes, None) is True, "expired before the clip"

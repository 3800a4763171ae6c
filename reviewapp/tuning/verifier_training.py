"""The verifier from the reviews: training it from reviewed clips, the promotion decision, and
the replay of the reviewed clips. Services in the `<entity>_<action>(*, ...)` style; the commands
`train_verifier` and `replay_reviewed` call these.

Training data come from the reviews: a reviewed clip's latest verdict labels the boxes of its
detail (reviewapp/review/detail.py); their crops are cut from the clip's own frames (`clip_local_file`, S3 or disk). Cameras
are split: the model is trained on some and judged on clips of the others, so a promotion says
something about cameras it has never seen.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings

from inference import suppression, tracking, verifier
from inference.decision import decide_clip
from inference.detector import Box
from inference.pipeline import FrameResult
from inference.thresholds import Counts
from inference.video import InvalidVideo, read_frame
from reviewapp.core.errors import ApplicationError, OutsideError
from reviewapp.core.storage import clip_local_file
from reviewapp.review import detail
from reviewapp.review.models import Clip, Review
from reviewapp.tuning.suppression import rules_for_camera_at

log = logging.getLogger(__name__)


MAX_FRAMES_PER_CLIP = 12  # the frames with the best boxes: enough views of one clip, bounded cost


def clips_reviewed():
    """Done clips with at least one review, annotated with their latest verdict, oldest first."""
    return (
        Clip.objects.filter(status=Clip.Status.DONE)
        .reviewed()
        .with_verdict()
        .select_related("camera")
        .order_by("recorded_at", "id")
    )


@dataclass
class ClipBoxes:
    clip: Clip
    person: bool
    threshold: float
    examples: list[verifier.Example] = field(default_factory=list)
    crops: dict[int, np.ndarray] = field(default_factory=dict)  # by DetailBox id: the held-out veto's


def clip_examples_collect(*, clip: Clip, person: bool, min_score: float) -> ClipBoxes:
    """Crops and descriptors of a reviewed clip's person detections with score >= min_score (or the
    camera's threshold, if lower), from at most MAX_FRAMES_PER_CLIP frames. A clip whose file
    is gone or unreadable gives no examples (logged), never a half-built set."""
    threshold = clip.camera.threshold
    floor = min(min_score, threshold)
    dets = sorted(
        (b for b in detail.clip_boxes(clip) if b.label == "person" and b.score >= floor), key=lambda b: -b.score
    )
    by_frame: dict[int, list[detail.DetailBox]] = defaultdict(list)
    for d in dets:
        if d.frame_index in by_frame or len(by_frame) < MAX_FRAMES_PER_CLIP:
            by_frame[d.frame_index].append(d)
    out = ClipBoxes(clip, person, threshold)
    if not by_frame:
        return out
    try:
        with clip_local_file(clip) as path:
            for index, frame_dets in sorted(by_frame.items()):
                image = read_frame(path, index)
                h, w = image.shape[:2]
                for d in frame_dets:
                    box = Box(d.x1, d.y1, d.x2, d.y2, d.score, d.label)
                    out.crops[d.id] = verifier.crop(image, box)
                    out.examples.append(
                        verifier.Example(
                            clip.camera.name,
                            str(clip.id),
                            person,
                            suppression.normalise_box(box, (w, h)),
                            suppression.describe(image, box),
                            out.crops[d.id],
                            d.score,
                        )
                    )
    except (InvalidVideo, FileNotFoundError, OutsideError) as exc:
        log.warning("clip %s left out of the verifier's data: %s", clip.id, exc)
        out.examples, out.crops = [], {}
    return out


def split_cameras(cameras: list[str], holdout: list[str] | None) -> tuple[list[str], list[str]]:
    """Held-out cameras: the ones named, else about a quarter chosen by a stable hash of the name
    (the same cameras every run, whatever the order the database returns)."""
    if holdout:
        unknown = sorted(set(holdout) - set(cameras))
        if unknown:
            raise ApplicationError(f"no reviewed clips for held-out camera(s) {', '.join(unknown)}", code="invalid")
        held = sorted(set(holdout))
    else:
        ranked = sorted(cameras, key=lambda c: hashlib.sha256(c.encode()).hexdigest())
        held = sorted(ranked[: max(1, len(cameras) // 4)]) if len(cameras) > 1 else []
    return sorted(set(cameras) - set(held)), held


def frames_from_detections(
    *, clip: Clip, detections: Sequence[detail.DetailBox]
) -> tuple[list[FrameResult], list[list[detail.DetailBox]]]:
    """Frames rebuilt from boxes (a clip's detail boxes, or some of them), and the boxes of each
    frame: to decide a past clip again through decide_clip. A frame without any box is missing
    here, which changes no decision; `clip_alerts` reads the whole detail, those frames too."""
    by_frame: dict[int, list[detail.DetailBox]] = {}
    for d in sorted(detections, key=lambda d: (d.frame_index, d.id or 0)):
        by_frame.setdefault(d.frame_index, []).append(d)
    frames = [
        FrameResult(
            index,
            rows[0].frame_time,
            [Box(d.x1, d.y1, d.x2, d.y2, d.score, d.label) for d in rows],
            [suppression.from_bytes(d.descriptor) if d.descriptor is not None else None for d in rows],
            (clip.width, clip.height),
        )
        for index, rows in by_frame.items()
    ]
    return frames, list(by_frame.values())


def clip_alerts(boxes: ClipBoxes, model: verifier.Verifier | None) -> bool:
    """Would this clip alert with this verifier (None: none)? decide_clip on the clip's stored
    detections, with its camera's threshold and the rules that existed before the clip was
    processed (no look-ahead). The verifier sees the crops collected for the clip's best frames."""
    clip = boxes.clip
    when = clip.started_at or clip.finished_at or clip.created_at
    found = detail.clip_detail(clip)
    frames, rows = (found.frames, found.rows()) if found is not None else ([], [])
    veto = None
    if model is not None:
        crops = {
            (i, j): boxes.crops[d.id] for i, ds in enumerate(rows) for j, d in enumerate(ds) if d.id in boxes.crops
        }
        veto = verifier.CropVeto(model, crops)
    decision = decide_clip(
        frames,
        rules=rules_for_camera_at(camera=clip.camera, when=when),
        threshold=clip.camera.threshold,
        review_band=clip.camera.review_band,
        now=when,
        verifier=veto,
    )
    return decision.alert


def _write_export(path: Path, data: list[ClipBoxes], train_cameras: set[str]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["clip_id", "camera", "recorded_at", "person", "split", "x1", "y1", "x2", "y2", "score"])
        for cb in data:
            split = "train" if cb.clip.camera.name in train_cameras else "holdout"
            for e in cb.examples:
                w.writerow(
                    [
                        cb.clip.id,
                        cb.clip.camera.name,
                        cb.clip.recorded_at.isoformat(),
                        int(cb.person),
                        split,
                        *(round(v, 5) for v in e.norm_box),
                        round(e.score, 4),
                    ]
                )


@dataclass
class TrainingReport:
    run_id: str
    version: str
    promoted: bool
    reason: str
    train_cameras: list[str]
    holdout_cameras: list[str]
    examples: dict
    baseline: dict
    candidate: dict


def verifier_train(
    *,
    holdout: list[str] | None = None,
    epochs: int = 20,
    seed: int = 0,
    min_score: float = verifier.MIN_SCORE,
    tracking_uri: str | None = None,
    promote: bool = True,
) -> TrainingReport:
    """Train a verifier on the reviewed clips of the training cameras, log and register it in
    MLflow, judge it on the held-out cameras' clips against what runs now, and promote it (the
    registry's production alias) only if it gives fewer false alerts there at equal recall."""
    tracking_uri = tracking_uri or settings.MLFLOW_TRACKING_URI
    reviewed = list(clips_reviewed())
    if not reviewed:
        raise ApplicationError("no reviewed clips yet: nothing to train on", code="no_data")
    data = [
        clip_examples_collect(clip=c, person=c.verdict == Review.Verdict.PERSON, min_score=min_score) for c in reviewed
    ]
    train_cams, held_cams = split_cameras(sorted({c.camera.name for c in reviewed}), holdout)
    train_set = [e for cb in data if cb.clip.camera.name in train_cams for e in cb.examples]
    result, labels = _candidate_train(train_set, epochs=epochs, seed=seed, min_score=min_score)
    held = [cb for cb in data if cb.clip.camera.name in held_cams]
    judged = _holdout_judge(held=held, result=result, tracking_uri=tracking_uri, min_score=min_score)
    run = _training_run_log(
        tracking_uri=tracking_uri,
        result=result,
        data=data,
        train_cams=train_cams,
        held_cams=held_cams,
        params={"epochs": epochs, "seed": seed, "min_score": min_score, "reviewed_clips": len(reviewed)},
        labels=labels,
        metrics=judged.metrics,
    )
    promoted = judged.ok and promote
    reason = judged.reason + ("; not promoted (--no-promote)" if judged.ok and not promote else "")
    evidence = _decision_record(
        tracking_uri=tracking_uri, run=run, promoted=promoted, reason=reason, judged=judged, held_cams=held_cams
    )
    examples = {"train": len(labels), "train_people": int(labels.sum()), "holdout": judged.crops}
    return TrainingReport(
        run.run_id,
        run.version,
        promoted,
        reason,
        train_cams,
        held_cams,
        examples,
        evidence["baseline"],
        evidence["candidate"],
    )


def _candidate_train(
    examples: list[verifier.Example], *, epochs: int, seed: int, min_score: float
) -> tuple[verifier.TrainResult, np.ndarray]:
    """The candidate model, trained on the training cameras' examples, and their labels."""
    crops, labels = verifier.build_examples(examples, min_score=min_score)
    try:
        return verifier.train(crops, labels, epochs=epochs, seed=seed), labels
    except ValueError as exc:
        raise ApplicationError(str(exc), code="no_data") from exc


@dataclass
class Judgement:
    """The candidate against what runs now, on the held-out cameras' clips."""

    baseline: Counts
    candidate: Counts
    ok: bool
    reason: str
    current_version: str | None
    crops: int  # held-out training examples (crops)
    metrics: dict


def _holdout_judge(
    *, held: list[ClipBoxes], result: verifier.TrainResult, tracking_uri: str, min_score: float
) -> Judgement:
    current_version, current = _production_verifier(tracking_uri=tracking_uri)
    candidate_model = verifier.Verifier(result.model, threshold=result.threshold, version="candidate")
    baseline = Counts.of((cb.person, clip_alerts(cb, current)) for cb in held)
    candidate = Counts.of((cb.person, clip_alerts(cb, candidate_model)) for cb in held)
    if not held:
        ok, reason = False, "no held-out camera with reviewed clips: nothing to judge the model on"
    else:
        ok, reason = verifier.promotion_decision(baseline, candidate)
        if current_version:
            reason += f" (against production version {current_version})"
    held_crops, held_labels = verifier.build_examples([e for cb in held for e in cb.examples], min_score=min_score)
    metrics = {
        "holdout_crop_accuracy": _crop_accuracy(result, held_crops, held_labels),
        **{f"holdout_baseline_{k}": v for k, v in baseline.as_dict(digits=4).items() if v is not None},
        **{f"holdout_candidate_{k}": v for k, v in candidate.as_dict(digits=4).items() if v is not None},
    }
    return Judgement(baseline, candidate, ok, reason, current_version, len(held_labels), metrics)


def _decision_record(*, tracking_uri: str, run, promoted: bool, reason: str, judged: Judgement, held_cams) -> dict:
    """The promotion decision on the registered version, with its evidence (returned)."""
    evidence = {
        "baseline": judged.baseline.as_dict(digits=4),
        "candidate": judged.candidate.as_dict(digits=4),
        "holdout_cameras": held_cams,
        "baseline_verifier": judged.current_version or "none",
    }
    tracking.record_decision(
        tracking_uri=tracking_uri,
        run_id=run.run_id,
        version=run.version,
        promote=promoted,
        reason=reason,
        evidence=evidence,
    )
    log.info("verifier version %s: %s (%s)", run.version, "promoted" if promoted else "not promoted", reason)
    return evidence


def _production_verifier(*, tracking_uri: str) -> tuple[str | None, verifier.Verifier | None]:
    """The registry's production version and its model (None, None when there is none)."""
    current_version = tracking.production_version(tracking_uri=tracking_uri)
    if not current_version:
        return None, None
    try:
        return current_version, verifier.load_verifier(
            f"models:/{tracking.MODEL_NAME}/{current_version}", tracking_uri=tracking_uri
        )
    except verifier.VerifierUnavailable as exc:
        # Without the production model there is nothing fair to compare with: no promotion.
        raise ApplicationError(f"production verifier {current_version}: {exc}", code="unavailable") from exc


def _crop_accuracy(result: verifier.TrainResult, crops: np.ndarray, labels: np.ndarray) -> float | None:
    if not len(labels):
        return None
    scores = verifier.predict(result.model, crops)
    return float(((scores >= result.threshold) == (labels == 1)).mean())


def _training_run_log(
    *, tracking_uri: str, result, data: list[ClipBoxes], train_cams, held_cams, params: dict, labels, metrics: dict
):
    """The run in MLflow: the model file, the examples' export, parameters and metrics; registered."""
    with tempfile.TemporaryDirectory() as tmp:
        model_file = verifier.save(result, Path(tmp) / tracking.MODEL_FILE)
        export = Path(tmp) / "examples.csv"
        _write_export(export, data, set(train_cams))
        params = {
            **params,
            "crop_size": verifier.CROP_SIZE,
            "architecture": verifier.ARCHITECTURE,
            "train_cameras": ",".join(train_cams),
            "holdout_cameras": ",".join(held_cams),
            "train_examples": len(labels),
            "train_people": int(labels.sum()),
            "detector": settings.DETECTOR,
            "data_sha256": hashlib.sha256(export.read_bytes()).hexdigest(),  # which export, at a glance
        }
        metrics = {
            "train_accuracy": result.train_accuracy,
            "final_loss": result.losses[-1],
            "threshold": result.threshold,
            **metrics,
        }
        return tracking.log_training_run(
            tracking_uri=tracking_uri,
            params=params,
            metrics=metrics,
            model_file=model_file,
            data_files=[export],
            tags={"vigia.task": "train_verifier"},
        )


def reviewed_labels_write(*, out: Path) -> tuple[Path, int]:
    """LABELS.csv of the reviewed clips (latest verdict) for `inference.replay`, the clip files
    linked (local storage) or downloaded (S3) under out/clips/. Returns (csv path, rows)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "clips").mkdir(exist_ok=True)
    rows = 0
    path = out / "labels.csv"
    tmp = out / "labels.csv.tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["clip_file", "person", "camera", "recorded_at", "clip_id"])
        for clip in clips_reviewed():
            name = f"clips/{clip.id}{Path(clip.file.name).suffix}"
            target = out / name
            try:
                with clip_local_file(clip) as local:
                    if target.exists() or target.is_symlink():
                        target.unlink()
                    if _is_permanent(clip):
                        try:  # a link: no copy of a disk full of clips
                            os.symlink(os.path.abspath(local), target)
                        except OSError:  # a filesystem without links
                            shutil.copyfile(local, target)
                    else:  # a temporary download from S3: keep it
                        shutil.copyfile(local, target)
            except (FileNotFoundError, OutsideError) as exc:
                log.warning("clip %s left out of the replay: %s", clip.id, exc)
                continue
            w.writerow(
                [
                    name,
                    int(clip.verdict == Review.Verdict.PERSON),
                    clip.camera.name,
                    clip.recorded_at.isoformat(),
                    clip.id,
                ]
            )
            rows += 1
    tmp.replace(path)
    return path, rows


def _is_permanent(clip: Clip) -> bool:
    """True when the storage has the file on local disk (a link to it stays valid)."""
    from django.core.files.storage import default_storage

    try:
        default_storage.path(clip.file.name)
        return True
    except NotImplementedError:
        return False

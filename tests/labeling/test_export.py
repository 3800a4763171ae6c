"""Training-set exports end to end: real clips, real frames, files a standard reader accepts."""

import json
from collections import defaultdict
from pathlib import Path

import cv2
import pytest
import yaml

from labeling.export import service as export
from labeling.export import storage
from labeling.export.frames import read_frames
from labeling.models import ExportRun
from reviewapp.core.errors import ApplicationError
from tests.factories import CameraFactory
from tests.labeling.exports import PERSON_BOX, ClipMaker

# ------------------------------------------------------------------------------- readers


def read_coco(path: Path, images_dir: Path) -> dict:
    """A plain COCO reader: the standard structure, ids unique and consistent, boxes inside the
    images, every image file present with the size the JSON says."""
    doc = json.loads(path.read_text())
    assert {"images", "annotations", "categories"} <= doc.keys()
    categories = {c["id"]: c for c in doc["categories"]}
    assert len(categories) == len(doc["categories"]) and all("name" in c for c in doc["categories"])
    images = {i["id"]: i for i in doc["images"]}
    assert len(images) == len(doc["images"]), "image ids are unique"
    for image in doc["images"]:
        assert {"id", "file_name", "width", "height"} <= image.keys()
        pixels = cv2.imread(str(images_dir / image["file_name"]))
        assert pixels is not None, image["file_name"]
        assert pixels.shape[:2] == (image["height"], image["width"])
    ann_ids = set()
    for ann in doc["annotations"]:
        assert ann["id"] not in ann_ids
        ann_ids.add(ann["id"])
        assert ann["image_id"] in images and ann["category_id"] in categories
        x, y, w, h = ann["bbox"]
        image = images[ann["image_id"]]
        assert w > 0 and h > 0 and x >= 0 and y >= 0
        assert x + w <= image["width"] + 1e-6 and y + h <= image["height"] + 1e-6
        assert ann["area"] == pytest.approx(w * h, rel=1e-3) and ann["iscrowd"] == 0
    return doc


def read_yolo(root: Path) -> dict[str, dict[str, list]]:
    """data.yaml parses; every image has a label file of `cls cx cy w h` lines in [0, 1]."""
    data = yaml.safe_load((root / "data.yaml").read_text())
    assert data["nc"] == 1 and data["names"] == {0: "person"}
    out = {}
    for split in ("train", "val", "test"):
        images = sorted((root / data[split]).glob("*.jpg"))
        labels = {}
        for image in images:
            label = root / "labels" / split / (image.stem + ".txt")
            assert label.is_file(), label
            rows = []
            for line in label.read_text().splitlines():
                cls, *nums = line.split()
                assert cls == "0" and len(nums) == 4
                cx, cy, w, h = map(float, nums)
                assert all(0.0 <= v <= 1.0 for v in (cx, cy, w, h))
                assert cx - w / 2 >= -1e-6 and cx + w / 2 <= 1 + 1e-6 and cy - h / 2 >= -1e-6 and cy + h / 2 <= 1 + 1e-6
                rows.append((cx, cy, w, h))
            labels[image.name] = rows
        out[split] = labels
    return out


def manifest(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture
def maker(tmp_path):
    return ClipMaker(tmp_path)


@pytest.fixture
def cameras(world):
    """Four cameras over two customers, so three splits can each have their own."""
    return [
        world.cam_a,
        world.cam_b,
        CameraFactory(customer=world.acme, name="acme-yard"),
        CameraFactory(customer=world.globex, name="globex-dock"),
    ]


@pytest.fixture
def dataset(world, cameras, maker):
    """Per camera: 3 confirmed people, 1 dog false positive, 1 insect false positive on two
    cameras, 1 plain no-person clip."""
    for i, cam in enumerate(cameras):
        for _ in range(3):
            maker.reviewed(cam, world.reviewer, verdict="person", score=0.8)
        maker.reviewed(cam, world.reviewer, verdict="no_person", tags=["dog"], score=0.7, alert=True)
        if i % 2 == 0:
            maker.reviewed(cam, world.reviewer, verdict="no_person", tags=["insect"], score=0.6, alert=True)
        maker.reviewed(cam, world.reviewer, verdict="no_person", score=0.3, alert=False)
    return cameras


def run_export(tmp_path, **options):
    run = export.export_request(options={"out": str(tmp_path / "exports"), **options}, trigger="test")
    export.export_execute(export_id=run.id)
    run.refresh_from_db()
    return run


# ---------------------------------------------------------------------------------- tests


def test_it_exports_coco_yolo_manifest_and_stats_that_agree(tmp_path, dataset):
    run = run_export(tmp_path, ratio=1.0, easy_share=0.25)
    assert run.status == ExportRun.Status.DONE, run.error
    root = Path(run.location)
    assert root.parent == tmp_path / "exports" and root.name == run.name
    assert (root / storage.COMPLETE_MARKER).is_file()
    assert not [p for p in root.parent.iterdir() if p.name.startswith(".tmp-")]

    entries = manifest(root)
    yolo = read_yolo(root)
    n_images = 0
    for split in ("train", "val", "test"):
        doc = read_coco(root / "annotations" / f"instances_{split}.json", root / "images" / split)
        assert sorted(i["file_name"] for i in doc["images"]) == sorted(yolo[split])
        boxes_per_image = defaultdict(int)
        for ann in doc["annotations"]:
            boxes_per_image[ann["image_id"]] += 1
        for image in doc["images"]:
            assert boxes_per_image[image["id"]] == len(yolo[split][image["file_name"]])
        n_images += len(doc["images"])
    assert n_images == len(entries) == run.counts["images"]

    stats = json.loads((root / "stats.json").read_text())
    assert stats == run.counts
    # 12 positives -> 12 negatives wanted: 3 plain (a quarter), 9 hard; only 6 hard exist.
    assert stats["clips"] == {"positive": 12, "hard_negative": 6, "negative": 3}
    by_class = defaultdict(int)
    for e in entries:
        if not e["augmentation"]:
            by_class[e["class"]] += 1
    # Frames per clip: 3 person frames, 2 false-positive frames, 1 frame with a weak box.
    assert by_class == {"positive": 36, "hard_negative": 12, "negative": 3}

    for e in entries:
        assert {"clip", "camera", "review", "tags", "split", "class", "frame_index"} <= e.keys()
        if e["class"] == "positive":
            assert e["boxes"] and e["boxes"][0] == list(PERSON_BOX)
        else:
            assert e["boxes"] == [] and yolo[e["split"]][Path(e["image"]).name] == []
            if e["class"] == "hard_negative" and not e["augmentation"]:
                assert e["false_boxes"], "the false box stays as metadata for error analysis"
                assert e["tags"] in (["dog"], ["insect"])
    assert stats["by_tag"]["dog"] >= 8


def test_no_camera_appears_in_two_splits_and_the_split_is_deterministic(tmp_path, dataset):
    run = run_export(tmp_path, seed=7)
    splits_of = defaultdict(set)
    for e in manifest(Path(run.location)):
        splits_of[e["camera"]].add(e["split"])
    assert all(len(s) == 1 for s in splits_of.values()), splits_of
    assert {next(iter(s)) for s in splits_of.values()} == {"train", "val", "test"}

    again = run_export(tmp_path, seed=7)
    assert again.counts["camera_split"] == run.counts["camera_split"]
    first = [(e["image"], e["boxes"]) for e in manifest(Path(run.location))]
    second = [(e["image"], e["boxes"]) for e in manifest(Path(again.location))]
    assert first == second


def test_augmented_images_are_only_in_train_and_name_their_source(tmp_path, dataset):
    run = run_export(tmp_path, augment="negative", augment_max=2)
    root = Path(run.location)
    entries = manifest(root)
    by_image = {e["image"]: e for e in entries}
    augmented = [e for e in entries if e["augmentation"]]
    assert augmented, "negatives are scarce here: some must be augmented"
    train = [e for e in entries if e["split"] == "train" and not e["augmentation"]]
    negatives = sum(1 for e in train if e["class"] != "positive")
    positives = len(train) - negatives
    assert len(augmented) <= min(positives - negatives, 2 * negatives)
    for e in augmented:
        assert e["split"] == "train" and e["class"] in ("hard_negative", "negative")
        source = by_image[e["augmentation"]["source"]]
        assert source["split"] == "train" and not source["augmentation"]
        assert (e["clip"], e["frame_index"], e["camera"]) == (source["clip"], source["frame_index"], source["camera"])
        assert e["augmentation"]["transforms"]
        assert e["boxes"] == []
        assert (root / e["image"]).is_file()
        pixels, original = cv2.imread(str(root / e["image"])), cv2.imread(str(root / source["image"]))
        assert pixels.shape == original.shape and (pixels != original).any()
    assert run.counts["augmented"] == len(augmented)


def test_augmenting_positives_keeps_every_person_box_inside_the_image(tmp_path, world, cameras, maker):
    for cam in cameras:
        maker.reviewed(cam, world.reviewer, verdict="person")
        for _ in range(3):
            maker.reviewed(cam, world.reviewer, verdict="no_person", tags=["car"], alert=True)
    run = run_export(tmp_path, augment="positive", augment_max=3, ratio=3, easy_share=0, split="1,0,0")
    root = Path(run.location)
    entries = manifest(root)
    augmented = [e for e in entries if e["augmentation"]]
    assert augmented and all(e["class"] == "positive" and len(e["boxes"]) == 1 for e in augmented)
    read_coco(root / "annotations" / "instances_train.json", root / "images" / "train")
    read_yolo(root)


def test_without_augmentation_there_is_none(tmp_path, dataset):
    run = run_export(tmp_path, augment="none")
    assert run.counts["augmented"] == 0
    assert not [e for e in manifest(Path(run.location)) if e["augmentation"]]


def test_a_missing_clip_file_is_skipped_and_counted(tmp_path, dataset, settings):
    from reviewapp.review.models import Clip

    lost = Clip.objects.filter(reviews__verdict="person").first()
    Path(settings.MEDIA_ROOT, lost.file.name).unlink()
    run = run_export(tmp_path)
    assert run.status == ExportRun.Status.DONE
    assert run.counts["clips_unreadable"] == [str(lost.id)]
    assert str(lost.id) not in {e["clip"] for e in manifest(Path(run.location))}


# ---------------------------------------------------------------------- atomicity, failures


class DiskFull(OSError):
    pass


def _fail_after(monkeypatch, cls, n):
    original = cls.put_bytes
    calls = {"n": 0}

    def put_bytes(self, key, data):
        calls["n"] += 1
        if calls["n"] > n:
            raise DiskFull(28, "No space left on device")
        return original(self, key, data)

    monkeypatch.setattr(cls, "put_bytes", put_bytes)


def test_a_failure_mid_export_leaves_nothing_that_looks_complete(tmp_path, dataset, monkeypatch):
    _fail_after(monkeypatch, storage.LocalStaging, 25)
    run = run_export(tmp_path)
    assert run.status == ExportRun.Status.FAILED
    assert "No space left" in run.error and run.location == ""
    out = tmp_path / "exports"
    assert list(out.iterdir()) == [], "the staging folder is removed"

    monkeypatch.undo()
    retried = run_export(tmp_path)
    assert retried.status == ExportRun.Status.DONE


def test_a_killed_export_is_started_again_from_scratch(tmp_path, dataset, settings):
    """A worker killed mid-export leaves a `running` row and a staging folder; the redelivered
    task claims the run once the hard time limit has passed and publishes a clean export."""
    from datetime import timedelta

    from django.utils import timezone

    run = export.export_request(options={"out": str(tmp_path / "exports")}, trigger="test")
    stale = tmp_path / "exports" / f".tmp-{run.name}-deadbeef"
    (stale / "images" / "train").mkdir(parents=True)
    (stale / "images" / "train" / "half.jpg").write_bytes(b"\xff\xd8")
    ExportRun.objects.filter(id=run.id).update(status=ExportRun.Status.RUNNING, started_at=timezone.now())
    assert export.export_execute(export_id=run.id) is None, "still inside its time limit: not taken"

    ExportRun.objects.filter(id=run.id).update(
        started_at=timezone.now() - timedelta(seconds=settings.EXPORT_TIME_LIMIT + 120)
    )
    export.export_execute(export_id=run.id)
    run.refresh_from_db()
    assert run.status == ExportRun.Status.DONE and run.attempts == 1
    assert not (Path(run.location) / "images" / "train" / "half.jpg").exists()
    assert not stale.exists(), "the killed attempt's staging folder is cleared"


def test_a_done_export_is_not_run_twice(tmp_path, dataset):
    run = run_export(tmp_path)
    assert export.export_execute(export_id=run.id) is None
    assert len(list((tmp_path / "exports").iterdir())) == 1


def test_an_export_published_before_a_crash_is_recognised(tmp_path, dataset):
    run = run_export(tmp_path)
    ExportRun.objects.filter(id=run.id).update(status=ExportRun.Status.QUEUED, location="")
    export.export_execute(export_id=run.id)
    run.refresh_from_db()
    assert run.status == ExportRun.Status.DONE and run.location.endswith(run.name)


@pytest.mark.parametrize(
    "options, field",
    [
        ({"ratio": "0"}, "ratio"),
        ({"ratio": "-1"}, "ratio"),
        ({"ratio": "abc"}, "ratio"),
        ({"tag": ["dog", "unicorn"]}, "tag"),
        ({"camera": "nowhere"}, "camera"),
        ({"customer": "999999"}, "customer"),
        ({"since": "2026-02-30"}, "since"),
        ({"since": "2026-05-02", "until": "2026-05-01"}, "until"),
        ({"easy_share": "1.5"}, "easy_share"),
        ({"split": "0,0.5,0.5"}, "split"),
        ({"augment": "everything"}, "augment"),
        ({"out": "ftp://host/x"}, "out"),
        ({"out": "s3://"}, "out"),
    ],
)
def test_bad_parameters_are_refused_and_start_nothing(tmp_path, dataset, options, field):
    with pytest.raises(ApplicationError) as exc:
        export.export_request(options={"out": str(tmp_path / "x"), **options})
    assert field in exc.value.fields
    assert not ExportRun.objects.exists()


def test_an_empty_selection_is_refused_and_starts_nothing(tmp_path, dataset):
    with pytest.raises(ApplicationError) as exc:
        export.export_request(options={"out": str(tmp_path / "x"), "until": "2000-01-01"})
    assert exc.value.code == "empty_selection"
    assert not ExportRun.objects.exists()


def test_a_selection_emptied_after_the_request_fails_the_run_with_the_reason(tmp_path, dataset):
    from reviewapp.review.models import Review

    run = export.export_request(options={"out": str(tmp_path / "exports")})
    Review.objects.filter(verdict="person").update(verdict="no_person")
    export.export_execute(export_id=run.id)
    run.refresh_from_db()
    assert run.status == ExportRun.Status.FAILED and "empty selection" in run.error
    assert not (tmp_path / "exports").exists() or list((tmp_path / "exports").iterdir()) == []


def test_frames_are_the_ones_at_the_detection_indices(tmp_path):
    from tests.videos import write_video

    path = write_video(tmp_path / "v.mp4", frames=60, seed=3)
    cap = cv2.VideoCapture(str(path))
    sequential = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        sequential.append(image)
    cap.release()
    wanted = [57, 2, 3, 40, 9]  # out of order, near and far
    frames = read_frames(str(path), wanted)
    assert sorted(frames) == sorted(wanted)
    for index in wanted:
        assert (frames[index] == sequential[index]).all(), index
    assert read_frames(str(tmp_path / "missing.mp4"), [1]) == {}

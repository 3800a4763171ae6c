"""Balancing, caps, filters and splits on known inputs."""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.export.options import ExportOptions, export_options_clean
from labeling.export.selection import (
    HARD_NEGATIVE,
    NEGATIVE,
    POSITIVE,
    Candidate,
    assign_splits,
    balance,
    export_candidates,
)
from reviewapp.review import queue
from tests.factories import CameraFactory, ClipFactory, ReviewItemFactory


def cands(klass, camera, n, *, tags=(), start=0):
    return [Candidate(f"{klass}-{camera}-{start + i:03d}", camera, 1, klass, start + i, tuple(tags)) for i in range(n)]


def opts(**kw):
    return ExportOptions(out="/tmp/x", **kw)


def test_the_negatives_follow_the_ratio_and_the_plain_share():
    pool = cands(POSITIVE, "a", 10) + cands(HARD_NEGATIVE, "a", 30, tags=["dog"]) + cands(NEGATIVE, "a", 30)
    s = balance(pool, opts(ratio=2.0, easy_share=0.25))
    assert len(s.positives) == 10
    assert len(s.hard_negatives) == 15 and len(s.negatives) == 5  # 20 negatives: a quarter plain


def test_a_short_kind_leaves_its_slots_empty():
    pool = cands(POSITIVE, "a", 10) + cands(HARD_NEGATIVE, "a", 3) + cands(NEGATIVE, "a", 30)
    s = balance(pool, opts(ratio=1.0, easy_share=0.2))
    assert (len(s.hard_negatives), len(s.negatives)) == (3, 2)


def test_the_camera_cap_bounds_each_class_per_camera():
    pool = (
        cands(POSITIVE, "noisy", 50)
        + cands(POSITIVE, "quiet", 4)
        + cands(HARD_NEGATIVE, "noisy", 50)
        + cands(HARD_NEGATIVE, "quiet", 2)
    )
    s = balance(pool, opts(ratio=1.0, easy_share=0.0, camera_cap=5))
    assert Counter(c.camera for c in s.positives) == {"noisy": 5, "quiet": 4}
    assert Counter(c.camera for c in s.hard_negatives) == {"noisy": 5, "quiet": 2}


def test_the_tag_cap_bounds_hard_negatives_per_tag():
    pool = (
        cands(POSITIVE, "a", 40)
        + cands(HARD_NEGATIVE, "a", 30, tags=["dog"])
        + cands(HARD_NEGATIVE, "a", 5, tags=["insect"], start=100)
        + cands(HARD_NEGATIVE, "a", 5, tags=["dog", "insect"], start=200)
    )
    s = balance(pool, opts(ratio=1.0, easy_share=0.0, tag_cap=8))
    per_tag = Counter(t for c in s.hard_negatives for t in c.tags)
    assert per_tag["dog"] <= 8 and per_tag["insect"] <= 8
    assert per_tag["dog"] == 8, "enough dogs to fill the cap"


def test_the_same_seed_gives_the_same_selection_whatever_the_input_order():
    pool = cands(POSITIVE, "a", 20) + cands(HARD_NEGATIVE, "a", 40)
    one = balance(pool, opts(seed=3))
    two = balance(list(reversed(pool)), opts(seed=3))
    other = balance(pool, opts(seed=4))
    assert [c.clip_id for c in one.clips] == [c.clip_id for c in two.clips]
    assert {c.clip_id for c in one.hard_negatives} != {c.clip_id for c in other.hard_negatives}


def test_splits_keep_cameras_whole_and_follow_the_shares():
    cameras = {f"cam-{i}": 10 for i in range(20)}
    split = assign_splits(cameras, (0.7, 0.15, 0.15), seed=1)
    load = Counter()
    for camera, s in split.items():
        load[s] += cameras[camera]
    assert set(split) == set(cameras)
    assert load == {"train": 140, "val": 30, "test": 30}
    assert assign_splits(cameras, (0.7, 0.15, 0.15), seed=1) == split


def test_with_few_cameras_val_and_test_still_get_one_each():
    split = assign_splits({"big": 100, "mid": 20, "small": 5}, (0.7, 0.15, 0.15), seed=0)
    assert split == {"big": "train", "mid": "val", "small": "test"} or split == {
        "big": "train",
        "mid": "test",
        "small": "val",
    }
    assert assign_splits({"only": 3}, (0.7, 0.15, 0.15), seed=0) == {"only": "train"}


def _reviewed(camera, reviewer, verdict, *, alert=True, tags=(), **kw):
    clip = ClipFactory(camera=camera, alert=alert, **kw)
    queue.review_record(item=ReviewItemFactory(clip=clip), reviewer=reviewer, verdict=verdict, tags=list(tags))
    return clip


def test_candidates_use_the_newest_review_and_the_filters(world):
    yard = CameraFactory(customer=world.acme, name="acme-yard")
    changed = _reviewed(world.cam_a, world.reviewer, "no_person", tags=["dog"])
    queue.review_record(item=changed.review_item, reviewer=world.reviewer2, verdict="person", tags=[])
    old = _reviewed(world.cam_a, world.reviewer, "person", recorded_at=timezone.now() - timedelta(days=40))
    fp = _reviewed(yard, world.reviewer, "no_person", tags=["insect"])
    plain = _reviewed(world.cam_b, world.reviewer, "no_person", alert=False)
    other_model = _reviewed(world.cam_b, world.reviewer, "person", model_version="v2")
    ClipFactory(camera=world.cam_a)  # not reviewed: never a candidate

    got = {c.clip_id: c.klass for c in export_candidates(export_options_clean({"out": "/tmp/x"}))}
    assert got == {
        str(changed.id): POSITIVE,
        str(old.id): POSITIVE,
        str(fp.id): HARD_NEGATIVE,
        str(plain.id): NEGATIVE,
        str(other_model.id): POSITIVE,
    }

    def ids(**raw):
        return {c.clip_id for c in export_candidates(export_options_clean({"out": "/tmp/x", **raw}))}

    assert ids(camera=["acme-door", "acme-yard"]) == {str(changed.id), str(old.id), str(fp.id)}
    assert ids(customer=str(world.globex.id)) == {str(plain.id), str(other_model.id)}
    cutoff = (timezone.now() - timedelta(days=30)).date().isoformat()
    assert ids(until=cutoff) == {str(old.id)}
    assert str(old.id) not in ids(since=cutoff)
    assert ids(model_version="v2") == {str(other_model.id)}
    # The tag filter picks negatives; positives stay.
    assert ids(tag="insect") == {str(changed.id), str(old.id), str(fp.id), str(other_model.id)}


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"split": "8,1,1"}, (0.8, 0.1, 0.1)),
        ({"camera": "b,a", "tag": ["dog"]}, None),
    ],
)
def test_options_are_normalised(world, raw, expected):
    CameraFactory(customer=world.acme, name="a")
    CameraFactory(customer=world.acme, name="b")
    o = export_options_clean({"out": "/tmp/x", **raw})
    if expected:
        assert o.split == expected
    else:
        assert o.camera == ("a", "b") and o.tag == ("dog",)
    assert ExportOptions.from_params(o.as_params()) == o

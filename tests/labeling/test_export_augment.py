"""Augmentation stays realistic and box-aware, and is reproducible."""

import cv2
import numpy as np

from labeling.export.augment import Augmenter
from tests.videos import write_video


def frame(tmp_path):
    cap = cv2.VideoCapture(str(write_video(tmp_path / "v.mp4", frames=5, size=(320, 240))))
    ok, image = cap.read()
    cap.release()
    assert ok
    return image


def test_boxes_follow_the_image_and_stay_inside_it(tmp_path):
    image = frame(tmp_path)
    augmenter = Augmenter(seed=5)
    person, false = (20.0, 30.0, 120.0, 200.0), (200.0, 20.0, 260.0, 90.0)
    results = [augmenter(image, [person], [false]) for _ in range(60)]
    done = [r for r in results if r is not None]
    assert len(done) >= 50
    flipped = 0
    for r in done:
        assert r.image.shape == image.shape and r.image.dtype == np.uint8
        assert len(r.boxes) == 1, "a person is never cropped away"
        x1, y1, x2, y2 = r.boxes[0]
        assert 0 <= x1 < x2 <= 320 and 0 <= y1 < y2 <= 240
        # Small geometric changes only: the box keeps roughly its size.
        assert 0.7 < (x2 - x1) * (y2 - y1) / (100 * 170) < 1.6
        assert r.transforms
        flipped += "HorizontalFlip" in r.transforms and x1 > 160
    assert flipped > 10, "flips move the box to the other side"


def test_the_light_changes_within_realistic_limits(tmp_path):
    image = frame(tmp_path)
    augmenter = Augmenter(seed=1)
    results = [augmenter(image, [], []) for _ in range(40)]
    assert sum(r is not None for r in results) >= 20, "most calls give an image"
    for r in results:
        if r is None:
            continue
        assert abs(float(r.image.mean()) - float(image.mean())) < 0.25 * 255
        assert r.image.std() > 0.3 * image.std(), "not washed out"


def test_the_same_seed_gives_the_same_images(tmp_path):
    image = frame(tmp_path)
    a, b = Augmenter(seed=9), Augmenter(seed=9)
    for _ in range(5):
        ra, rb = a(image, [(20.0, 30.0, 120.0, 200.0)], []), b(image, [(20.0, 30.0, 120.0, 200.0)], [])
        assert (ra is None) == (rb is None)
        if ra is not None:
            assert (ra.image == rb.image).all() and ra.boxes == rb.boxes
    other = Augmenter(seed=10)(image, [(20.0, 30.0, 120.0, 200.0)], [])
    first = Augmenter(seed=9)(image, [(20.0, 30.0, 120.0, 200.0)], [])
    assert other is not None and first is not None
    assert not (other.image == first.image).all()


def test_a_person_box_at_the_edge_is_never_lost(tmp_path):
    image = frame(tmp_path)
    augmenter = Augmenter(seed=2)
    edge = (290.0, 60.0, 320.0, 200.0)  # half a person at the right edge
    results = [augmenter(image, [edge], []) for _ in range(40)]
    assert sum(r is not None for r in results) >= 20, "most calls give an image"
    for r in results:
        assert r is None or len(r.boxes) == 1

"""The second look at uncertain clips (inference.second_look): only clips in the review band pay,
on their deciding frames, and the decision is taken on what the second detector sees there."""

import json
from datetime import UTC, datetime

from inference.decision import decide_clip
from inference.detector import Box
from inference.pipeline import detect_clip
from inference.second_look import SecondLook
from tests.inference.test_evaluate import run
from tests.videos import write_video

NOW = datetime(2026, 12, 1, tzinfo=UTC)


class Scripted:
    """A detector that gives every frame one person box scoring `score` and counts its frames."""

    name = version = "scripted"

    def __init__(self, score):
        self.score, self.seen = score, 0

    def detect(self, frames):
        self.seen += len(frames)
        return [[Box(10, 20, 60, 120, self.score)] for _ in frames]


class Rising(Scripted):
    """The first pass: the person box scores more in every frame, so the deciding frames are the last."""

    def detect(self, frames):
        out = []
        for _ in frames:
            self.seen += 1
            out.append([Box(10, 20, 60, 120, round(0.01 * self.seen + self.score, 3))])
        return out


def test_a_near_threshold_clip_is_decided_again_on_its_deciding_frames_only(tmp_path):
    path = write_video(tmp_path / "c.mp4", frames=40, fps=10)
    first = detect_clip(path, Rising(0.2), sample_fps=2)
    threshold = 0.25
    decision = decide_clip(first.frames, rules=[], threshold=threshold, review_band=0.1, now=NOW)
    assert decision.alert and abs(decision.score - threshold) <= 0.1, "alerts, but within the band"

    bigger = Scripted(0.12)
    look = SecondLook(bigger, frames=3)
    assert look.needed(decision.score, threshold, 0.1)
    frames = look.look(path, first.frames, describe_min_score=0.0)
    assert bigger.seen == 3 and [f.index for f in frames] == [f.index for f in first.frames[-3:]]
    assert all(d is not None for f in frames for d in f.descriptors)
    again = decide_clip(frames, rules=[], threshold=threshold, review_band=0.1, now=NOW)
    assert not again.alert and again.score == 0.12, "the second pass changed the decision"
    assert look.looks == 1 and look.seconds > 0


def test_clear_clips_get_no_second_look():
    look = SecondLook(Scripted(0.5))
    assert not look.needed(0.6, 0.25, 0.1) and not look.needed(0.1, 0.25, 0.1) and not look.needed(0.0, 0.05, 0.1)
    assert look.needed(0.34, 0.25, 0.1) and look.needed(0.16, 0.25, 0.1)


def test_evaluate_reports_both_passes_margin_and_cost(tmp_path):
    from reviewapp.review.demo import photo, write_clip

    (tmp_path / "clips").mkdir()
    write_clip(tmp_path / "clips/astronaut.mp4", photo("astronaut"), seconds=2, fps=5)
    write_video(tmp_path / "clips/empty.mp4", frames=10, fps=5)
    (tmp_path / "labels.csv").write_text("clip_file,person\nclips/astronaut.mp4,1\nclips/empty.mp4,0\n")
    proc = run(
        tmp_path / "labels.csv", "--detector", "hog", "--second-look", "hog", "--threshold", "0.5", "--review-band", "1"
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["second_look"].startswith("hog") and summary["second_looks"] >= 1
    assert {"margin", "margin_second", "detect_seconds", "second_look_seconds", "second_look_cost"} <= set(summary)
    looked = [c for c in summary["per_clip"] if c["second_score"] is not None]
    assert len(looked) == summary["second_looks"]
    assert all(c["score"] == c["second_score"] for c in looked), "the second look decides"


def test_tiles_cover_the_frame_and_map_the_distant_persons_box_back_to_it():
    from inference.detector import load_detector
    from inference.second_look import Tiled, parse_spec, tile_boxes
    from inference.suppression import iou
    from tests import scenes

    tiles = tile_boxes(640, 480, 2)
    assert tiles == [(0, 0, 400, 300), (240, 0, 640, 300), (0, 180, 400, 480), (240, 180, 640, 480)]
    assert parse_spec("tiles:2:centernet:320:onnxruntime") == ("centernet:320:onnxruntime", 2)
    assert parse_spec("centernet:512:onnxruntime") == ("centernet:512:onnxruntime", 1)

    # A small distant figure in the bottom-right tile only (offset 240, 180): its box must come back there.
    sprite = scenes.person(36, 48)
    x, y = 560, 400
    frame = scenes.paste(scenes.background(0), sprite, x, y)
    figure = (x, y, x + sprite.shape[1], y + sprite.shape[0])
    boxes = Tiled(load_detector("centernet:320:onnxruntime"), 2).detect([frame])[0]
    best = max(boxes, key=lambda b: iou(b.as_list(), figure))
    assert iou(best.as_list(), figure) > 0.3, f"the tile's box lands on the figure {figure}: {best}"
    assert best.score > 0.2

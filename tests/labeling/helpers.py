from datetime import timedelta

from django.utils import timezone

from tests.factories import ClipFactory, ReviewItemFactory, clip_detail_write


def processed_clip(camera, *, score=0.55, recorded_at=None, item=True, **kwargs):
    """A clip as the pipeline leaves it: done, with boxes, in the review queue."""
    now = timezone.now()
    clip = ClipFactory(
        camera=camera,
        score=score,
        alert=score >= camera.threshold,
        recorded_at=recorded_at or now,
        started_at=now - timedelta(seconds=2),
        finished_at=now,
        model_version="hog-test",
        **kwargs,
    )
    clip_detail_write(
        clip,
        [
            {"frame_index": 0, "frame_time": 0, "x1": 10, "y1": 20, "x2": 110, "y2": 220, "score": score / 2},
            {"frame_index": 5, "frame_time": 0.5, "x1": 64, "y1": 48, "x2": 320, "y2": 480, "score": score},
            {"frame_index": 5, "frame_time": 0.5, "x1": 0, "y1": 0, "x2": 64, "y2": 48, "score": score / 3},
        ],
    )
    if item:
        ReviewItemFactory(clip=clip)
    return clip

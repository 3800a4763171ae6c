"""Reviewed clips with real video files and detections, for the export and extraction tests."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone

from reviewapp.review import queue
from tests.factories import ClipFactory, ReviewItemFactory, clip_detail_write
from tests.videos import write_video

PERSON_BOX = (20.0, 30.0, 120.0, 200.0)
FALSE_BOX = (200.0, 20.0, 260.0, 90.0)


class ClipMaker:
    """Stores one small real MP4 (320x240, 20 frames at 10 fps) under a new name per clip."""

    def __init__(self, tmp_path: Path, frames: int = 20):
        self.video = write_video(tmp_path / "source.mp4", frames=frames)
        self.frames = frames

    def clip(self, camera, *, score=0.6, alert=None, recorded_at=None, detections=(), **kwargs):
        clip_id = uuid.uuid4()
        kwargs.setdefault("finished_at", timezone.now())
        with open(self.video, "rb") as f:
            name = default_storage.save(f"clips/{camera.name}/{clip_id}.mp4", File(f))
        clip = ClipFactory(
            id=clip_id,
            camera=camera,
            file=name,
            score=score,
            alert=(score >= camera.threshold) if alert is None else alert,
            recorded_at=recorded_at or timezone.now() - timedelta(hours=1),
            width=320,
            height=240,
            fps=10.0,
            duration=self.frames / 10.0,
            **kwargs,
        )
        if detections:  # the clip's detail file, as the worker writes it
            clip_detail_write(
                clip,
                [
                    {"frame_index": i, "frame_time": i / 10.0, "x1": box[0], "y1": box[1], "x2": box[2], "y2": box[3],
                     "score": box_score}
                    for i, box, box_score in detections
                ],
            )  # fmt: skip
        return clip

    def reviewed(self, camera, reviewer, *, verdict, tags=(), **kwargs):
        """A clip with its review: "person" clips get a person box on frames 2, 5, 8 (and a weak box
        on 5); false positives ("no_person" with alert) a false box on frames 3 and 6."""
        if "detections" not in kwargs:
            if verdict == "person":
                kwargs["detections"] = [
                    (2, PERSON_BOX, 0.8),
                    (5, PERSON_BOX, 0.7),
                    (5, FALSE_BOX, 0.1),
                    (8, PERSON_BOX, 0.6),
                ]
            elif kwargs.get("alert", True):
                kwargs["detections"] = [(3, FALSE_BOX, 0.7), (6, FALSE_BOX, 0.65)]
            else:
                kwargs["detections"] = [(4, FALSE_BOX, 0.2)]
        clip = self.clip(camera, **kwargs)
        item = ReviewItemFactory(clip=clip)
        queue.review_record(item=item, reviewer=reviewer, verdict=verdict, tags=list(tags))
        return clip

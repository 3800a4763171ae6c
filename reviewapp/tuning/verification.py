"""The verifier in the worker: crops of the boxes that could make a clip alert, cut while its
frames are decoded, then a veto on the decision. The model comes from VERIFIER (a file or a
registry reference); training it is reviewapp.tuning.verifier_training.
"""

from __future__ import annotations

import numpy as np
from django.conf import settings

from inference import verifier
from reviewapp.review.models import Clip


class ClipVerification:
    """The verifier's part of processing one clip: crops of the boxes that could make it alert,
    cut while the frames are decoded (`on_frame`), then a veto on the decision (`verify`)."""

    def __init__(self, model: verifier.Verifier, threshold: float):
        self.model = model
        self.threshold = threshold
        self.crops: dict[tuple[int, int], np.ndarray] = {}  # (position of the detected frame, box index)
        self._position = 0
        self.checked = False

    def on_frame(self, frame, boxes) -> None:
        for j, b in enumerate(boxes):
            if b.label == "person" and b.score >= self.threshold:
                self.crops[(self._position, j)] = verifier.crop(frame.image, b)
        self._position += 1

    def verify(self, decision, *, suppressed=None):
        """The decision, with the alert vetoed when the verifier accepts none of the boxes that made
        it (`suppressed(position, j)` leaves out boxes a rule already removed). A vetoed clip goes
        to review: the verifier is a model, and its mistakes must reach a human."""
        if not decision.alert:
            return decision
        crops = [c for (pos, j), c in self.crops.items() if suppressed is None or not suppressed(pos, j)]
        if not crops:
            return decision
        self.checked = True
        if self.model.accepts(np.stack(crops)):
            return decision
        from dataclasses import replace

        return replace(decision, alert=False, near_threshold=True)

    def record(self, clip: Clip) -> None:
        """Which verifier decided the clip ("" when it had nothing to decide)."""
        clip.verifier_version = self.model.version if self.checked else ""


def clip_verification_start(*, camera) -> ClipVerification | None:
    """None when no verifier is configured (VERIFIER empty, the default)."""
    model = verifier.load_verifier(settings.VERIFIER, tracking_uri=settings.MLFLOW_TRACKING_URI)
    return ClipVerification(model, camera.threshold) if model is not None else None

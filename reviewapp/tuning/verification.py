"""The verifier in the worker: crops of the boxes that could make a clip alert, cut while its
frames are decoded, then the veto `inference.decision.decide_clip` asks. The model comes from
VERIFIER (a file or a registry reference); training it is reviewapp.tuning.verifier_training.
"""

from __future__ import annotations

from django.conf import settings

from inference import verifier
from reviewapp.review.models import Clip


class ClipVerification(verifier.CropVeto):
    """The verifier's part of processing one clip: crops of the boxes that could make it alert,
    cut while the frames are decoded (`on_frame`), then asked by decide_clip (`accepts`). A vetoed
    clip goes to review: the verifier is a model, and its mistakes must reach a human."""

    def __init__(self, model: verifier.Verifier, threshold: float):
        super().__init__(model)
        self.threshold = threshold
        self._position = 0  # of the detected frame, as decide_clip numbers them

    def on_frame(self, frame, boxes) -> None:
        for j, b in enumerate(boxes):
            if b.label == "person" and b.score >= self.threshold:
                self.crops[(self._position, j)] = verifier.crop(frame.image, b)
        self._position += 1

    def record(self, clip: Clip) -> None:
        """Which verifier decided the clip ("" when it had nothing to decide)."""
        clip.verifier_version = self.model.version if self.checked else ""


def clip_verification_start(*, camera) -> ClipVerification | None:
    """None when no verifier is configured (VERIFIER empty, the default)."""
    model = verifier.load_verifier(settings.VERIFIER, tracking_uri=settings.MLFLOW_TRACKING_URI)
    return ClipVerification(model, camera.threshold) if model is not None else None

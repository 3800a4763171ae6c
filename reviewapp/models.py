"""The app's models, for Django (it loads `<app>.models`) and the migrations. They live with
their feature; code imports them from there (`reviewapp.review.models`, ...)."""

from reviewapp.monitoring.models import CameraDrift
from reviewapp.review.models import (
    AlertOutbox,
    Camera,
    Clip,
    Customer,
    Detection,
    FalseAlertReport,
    Profile,
    Review,
    ReviewItem,
    Tag,
)
from reviewapp.review.rollup_models import AnalysisCameraDay, AnalysisCell, AnalysisHour, AnalysisTagCell, DriftHour
from reviewapp.tuning.models import SuppressionRule, ThresholdChange, ThresholdRecommendation

__all__ = [
    "AlertOutbox",
    "AnalysisCameraDay",
    "AnalysisCell",
    "AnalysisHour",
    "AnalysisTagCell",
    "Camera",
    "CameraDrift",
    "Clip",
    "Customer",
    "Detection",
    "DriftHour",
    "FalseAlertReport",
    "Profile",
    "Review",
    "ReviewItem",
    "SuppressionRule",
    "Tag",
    "ThresholdChange",
    "ThresholdRecommendation",
]

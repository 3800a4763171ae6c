"""The drift check's bins, defined once (#13): the scan of clips (reviewapp/monitoring/drift.py)
and the rollup the services keep (reviewapp/review/rollups.py, DriftHour) bin a clip with these
expressions, so the two give the same histograms.

A clip's raw score is the detector's own, before the camera's suppression rules (a new rule
lowers `score`, and must not be taken for drift): greatest(score, suppressed_score). It falls in
one of SCORE_BINS bins 0.05 wide (1.0 in the last); its person boxes (detections_count) in one of
the DETECTION_EDGES bins, or in none when the count is unknown (NULL).
"""

from django.db.models import Case, F, FloatField, IntegerField, QuerySet, Value, When
from django.db.models.functions import Coalesce, Floor, Greatest, Least

SCORE_BINS = 20  # 0.05 wide; PSI merges pairs into 10 bins of 0.1
DETECTION_EDGES = [0, 1, 2, 3, 5, 10, 20]  # bins [0], [1], [2], [3,4], [5,9], [10,19], [20+)
# DriftHour's columns of the bins' counts.
SCORE_BIN_FIELDS = tuple(f"score_{i}" for i in range(SCORE_BINS))
BOXES_BIN_FIELDS = tuple(f"boxes_{i}" for i in range(len(DETECTION_EDGES)))


def raw_score():
    return Greatest(F("score"), Coalesce(F("suppressed_score"), Value(0.0)), output_field=FloatField())


def score_bin():
    """Of the annotation `raw_score`."""
    return Least(Floor(F("raw_score") * SCORE_BINS), Value(SCORE_BINS - 1), output_field=IntegerField())


def boxes_bin():
    """NULL when detections_count is unknown."""
    whens = [When(detections_count__lt=edge, then=Value(i - 1)) for i, edge in enumerate(DETECTION_EDGES) if i > 0]
    return Case(
        When(detections_count__isnull=True, then=Value(None)),
        *whens,
        default=Value(len(DETECTION_EDGES) - 1),
        output_field=IntegerField(),
    )


def with_bins(clips: QuerySet) -> QuerySet:
    """Annotated with raw_score, score_bin, boxes_bin (meaningless where score is NULL)."""
    return clips.annotate(raw_score=raw_score(), score_bin=score_bin(), boxes_bin=boxes_bin())


def binned(clips: QuerySet) -> QuerySet:
    """The clips that count for drift, those with a score, with their bins."""
    return with_bins(clips.filter(score__isnull=False))

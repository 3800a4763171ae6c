"""The rollups' tables (#13): the error analysis's counts (Analysis*) and the drift check's
histograms (DriftHour), kept by reviewapp/review/rollups.py as clips change. Apart from the
clips' models so that each file stays readable; Django loads them through reviewapp/models.py."""

from django.db import models

from reviewapp.review.models import Camera, Tag
from reviewapp.review.score_bins import BOXES_BIN_FIELDS, SCORE_BIN_FIELDS

# ------------------------------------------------------------------- error-analysis rollups
# Counts of processed clips kept as clips are decided (reviewapp/review/rollups.py keeps them;
# reviewapp/monitoring/analysis_rollups.py reads them). One row per key; the counts are those of
# reviewapp.review.rollups.COUNT_FIELDS. Hours and days are UTC: a whole-hour zone's hours and
# days are unions of UTC hours (docs/monitoring.md#rollups).


class _Counts(models.Model):
    clips = models.IntegerField(default=0)
    alerts = models.IntegerField(default=0)
    reviewed = models.IntegerField(default=0)
    alerts_reviewed = models.IntegerField(default=0)
    false_alerts = models.IntegerField(default=0)
    missed = models.IntegerField(default=0)
    reported = models.IntegerField(default=0)

    class Meta:
        abstract = True

    def __str__(self):
        return f"{type(self).__name__} {self.pk}: {self.clips} clips"


class _Slice(models.Model):
    resolution = models.CharField(max_length=8)
    lighting = models.CharField(max_length=8)
    model_version = models.CharField(max_length=100)

    class Meta:
        abstract = True


class AnalysisCell(_Slice, _Counts):
    """The finest key: a camera's clips of one UTC hour, by resolution, lighting, model version."""

    hour = models.DateTimeField()
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "camera", "resolution", "lighting", "model_version"], name="analysis_cell_key"
            )
        ]
        indexes = [models.Index(fields=["camera", "hour"], name="analysis_cell_camera")]


class AnalysisHour(_Slice, _Counts):
    """All cameras' clips of one UTC hour: the page without a camera or customer filter."""

    hour = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "resolution", "lighting", "model_version"], name="analysis_hour_key"
            )
        ]


class AnalysisCameraDay(_Slice, _Counts):
    """A camera's clips of one UTC day: the by-camera and by-customer rows of a long window."""

    day = models.DateField()
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "camera", "resolution", "lighting", "model_version"], name="analysis_camera_day_key"
            )
        ]


class AnalysisTagCell(_Slice):
    """Reviewed clips by a tag of their newest review (a clip with two tags counts under both)."""

    hour = models.DateTimeField()
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="+")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+")
    reviewed = models.IntegerField(default=0)
    alerts_reviewed = models.IntegerField(default=0)
    false_alerts = models.IntegerField(default=0)
    missed = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "camera", "tag", "resolution", "lighting", "model_version"], name="analysis_tag_key"
            )
        ]

    def __str__(self):
        return f"tag {self.tag_id} {self.hour:%Y-%m-%d %H}h camera {self.camera_id}: {self.reviewed} reviewed"


class DriftHour(models.Model):
    """A camera's processed clips of one UTC hour binned for the drift check (score_bins): their
    count, the sum of their raw scores, and a count per score bin (score_0..) and per boxes bin
    (boxes_0..; a clip whose boxes are unknown is in none)."""

    hour = models.DateTimeField()
    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="+")
    clips = models.IntegerField(default=0)
    score_sum = models.FloatField(default=0.0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "camera"], name="drift_hour_key")]

    def __str__(self):
        return f"drift {self.hour:%Y-%m-%d %H}h camera {self.camera_id}: {self.clips} clips"


for _name in (*SCORE_BIN_FIELDS, *BOXES_BIN_FIELDS):
    DriftHour.add_to_class(_name, models.IntegerField(default=0))

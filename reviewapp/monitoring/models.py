"""Monitoring: the latest drift check of each camera."""

from django.db import models

from reviewapp.review.models import Camera


class CameraDrift(models.Model):
    """The latest drift check of one camera: its clip scores and detections per clip in the
    current window against its own baseline window (PSI; see reviewapp.drift)."""

    camera = models.OneToOneField(Camera, on_delete=models.CASCADE, related_name="drift")
    checked_at = models.DateTimeField()
    window_start = models.DateTimeField()
    baseline_start = models.DateTimeField()
    baseline_clips = models.PositiveIntegerField(default=0)
    current_clips = models.PositiveIntegerField(default=0)
    psi_score = models.FloatField(null=True, blank=True)
    psi_detections = models.FloatField(null=True, blank=True)
    ks_statistic = models.FloatField(
        null=True, blank=True, help_text="Two-sample KS D of the scores (shown, not used to flag)."
    )
    ks_pvalue = models.FloatField(null=True, blank=True)
    baseline_mean_score = models.FloatField(null=True, blank=True)
    current_mean_score = models.FloatField(null=True, blank=True)
    flagged = models.BooleanField(default=False)
    flagged_since = models.DateTimeField(null=True, blank=True)
    audit_sent_at = models.DateTimeField(null=True, blank=True)
    audit_sent = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["flagged", "-psi_score"], name="drift_flagged")]

    def __str__(self):
        return f"drift {self.camera}: {'flagged' if self.flagged else 'ok'}"

"""Tuning: suppression rules, threshold recommendations and the threshold changes people applied."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from reviewapp.review.models import Camera, Clip


class SuppressionRule(models.Model):
    """A known false positive of one camera: a detection at this place (box, as fractions of the
    frame) that looks like this (appearance descriptor) is not a person. Made from a reviewer's
    "no person + suppress similar"; it applies from the next clip processed."""

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="suppression_rules")
    x1 = models.FloatField()
    y1 = models.FloatField()
    x2 = models.FloatField()
    y2 = models.FloatField()
    descriptor = models.BinaryField(editable=False)
    descriptor_version = models.PositiveSmallIntegerField(editable=False)
    iou_min = models.FloatField(help_text="Place tolerance: overlap (IoU) a detection needs with the rule's box.")
    similarity_min = models.FloatField(help_text="Appearance tolerance: cosine similarity a detection's crop needs.")
    source_review = models.ForeignKey(
        "Review", null=True, blank=True, on_delete=models.SET_NULL, related_name="suppression_rules"
    )
    source_clip = models.ForeignKey(Clip, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    source_score = models.FloatField(help_text="Best score of the false detections it was made from.")
    source_detections = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    active = models.BooleanField(default=True)
    # Set when a clip in which it suppressed detections is later confirmed as a person.
    flagged = models.BooleanField(default=False)
    flagged_at = models.DateTimeField(null=True, blank=True)
    flag_reason = models.TextField(blank=True)
    hits = models.PositiveIntegerField(default=0, help_text="Clips in which it suppressed at least one detection.")
    last_hit_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True, max_length=2000)

    class Meta:
        indexes = [models.Index(fields=["camera", "active"])]
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                name="rule_box_in_frame",
                condition=Q(x1__gte=0)
                & Q(y1__gte=0)
                & Q(x2__lte=1)
                & Q(y2__lte=1)
                & Q(x1__lt=F("x2"))
                & Q(y1__lt=F("y2")),
            ),
            models.CheckConstraint(name="rule_iou_0_1", condition=Q(iou_min__gte=0) & Q(iou_min__lte=1)),
            models.CheckConstraint(
                name="rule_similarity_0_1", condition=Q(similarity_min__gte=0) & Q(similarity_min__lte=1)
            ),
        ]

    def __str__(self):
        return f"rule {self.id} ({self.camera})"

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)


class ThresholdRecommendation(models.Model):
    """The latest recommendation for one camera (or the global one, camera empty), refreshed by a
    scheduled job from the reviewed clips. Never applied by itself: see ThresholdChange."""

    camera = models.OneToOneField(
        Camera, null=True, blank=True, on_delete=models.CASCADE, related_name="threshold_recommendation"
    )
    is_global = models.BooleanField(default=False, editable=False)
    # Set when the camera has too few reviews: the threshold is the global one, and this says why.
    fallback_reason = models.TextField(blank=True)
    threshold = models.FloatField(null=True, blank=True, help_text="Empty: no recommendation (see reason).")
    target_recall = models.FloatField()
    reachable = models.BooleanField(default=True)
    reviews = models.PositiveIntegerField(default=0)
    positives = models.PositiveIntegerField(default=0)
    negatives = models.PositiveIntegerField(default=0)
    evidence = models.JSONField(default=dict, help_text="Curve, trade-off and alert rates it was computed from.")
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            # A unique camera column would allow any number of NULLs: the global row needs its own.
            models.UniqueConstraint(
                fields=["is_global"], condition=Q(is_global=True), name="one_global_recommendation"
            ),
            models.CheckConstraint(
                name="global_has_no_camera",
                condition=Q(is_global=True, camera__isnull=True) | Q(is_global=False, camera__isnull=False),
            ),
        ]

    def __str__(self):
        return f"recommendation for {self.camera or 'all cameras'}: {self.threshold}"


class ThresholdChange(models.Model):
    """Who changed a camera's threshold, when, from what to what, on which evidence."""

    camera = models.ForeignKey(Camera, on_delete=models.CASCADE, related_name="threshold_changes")
    old_threshold = models.FloatField()
    new_threshold = models.FloatField()
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    changed_at = models.DateTimeField(auto_now_add=True)
    evidence = models.JSONField(default=dict, help_text="The recommendation applied, as it was when applied.")
    note = models.TextField(blank=True, max_length=2000)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self):
        return f"{self.camera} {self.old_threshold:g} -> {self.new_threshold:g}"

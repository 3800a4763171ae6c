"""The review domain: customers, cameras, clips and their detections, the review queue, reviews,
customers' false-alert reports."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import OuterRef, Q, Subquery
from django.utils.translation import gettext_lazy as _

from reviewapp.core.timezones import DEFAULT_CUSTOMER_TIMEZONE, validate_timezone

# ------------------------------------------------------------------------ a clip's verdict
# A clip's verdict is its newest review: the latest created, and of two created in the same
# instant the one saved last. Everything that needs a verdict asks `newest_review` (in SQL:
# `Clip.objects.with_verdict()`, the tag filter, the sync's change time) or
# `Review.objects.newest_per_clip` (in Python, built on it). Making it fast at scale (#13, e.g. a
# column on the clip kept by the review services) is then a change of `newest_review` alone.
NEWEST_REVIEW_FIRST = ("-created_at", "-id")


def newest_review(field: str) -> Subquery:
    """`field` of the outer clip's newest review (NULL when it has none), for annotations."""
    newest = Review.objects.filter(clip=OuterRef("pk")).order_by(*NEWEST_REVIEW_FIRST)
    return Subquery(newest.values(field)[:1])


class ClipQuerySet(models.QuerySet):
    def with_verdict(self):
        """Annotated with `verdict` (None: not reviewed) and `verdict_review_id`, its review."""
        return self.annotate(verdict=newest_review("verdict"), verdict_review_id=newest_review("id"))

    def reviewed(self):
        # A semi-join, not a join: no duplicates, and the database may start from the reviews
        # (a small share of all clips).
        return self.filter(pk__in=Review.objects.values("clip_id"))


class ReviewQuerySet(models.QuerySet):
    def newest_per_clip(self, clip_ids) -> dict:
        """{clip id: its newest review} of these clips, in one query (this queryset's
        select_related and prefetch_related apply). A clip without a review is not in it."""
        newest = Clip.objects.filter(pk__in=clip_ids).with_verdict().values("verdict_review_id")
        return {review.clip_id: review for review in self.filter(id__in=newest)}


class Customer(models.Model):
    name = models.CharField(max_length=100, unique=True)
    # An IANA zone: the customer's users see their times in it.
    timezone = models.CharField(
        _("time zone"), max_length=64, default=DEFAULT_CUSTOMER_TIMEZONE, validators=[validate_timezone]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return self.name


class Profile(models.Model):
    """What a user may do. Operators are Django staff; everyone else has one role here."""

    class Role(models.TextChoices):
        REVIEWER = "reviewer"
        CUSTOMER = "customer"
        INGEST = "ingest"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    role = models.CharField(max_length=16, choices=Role.choices)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="users")
    # A reviewer's (or operator's) own IANA zone; empty: settings.TIME_ZONE. Customers use their customer's.
    timezone = models.CharField(_("time zone"), max_length=64, blank=True, default="", validators=[validate_timezone])

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="customer_role_has_customer",
                condition=~Q(role="customer") | Q(customer__isnull=False),
            )
        ]

    def __str__(self):
        return f"{self.user} ({self.role})"


class Camera(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="cameras")
    # The camera's id in the monitoring company's system; unique across customers.
    name = models.SlugField(max_length=100, unique=True)
    threshold = models.FloatField(default=0.5)
    review_band = models.FloatField(
        default=0.15, help_text="Clips scoring within ± this of the threshold are reviewed."
    )
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The `camera_group` label of the metrics (blank: the customer's name). Metrics never carry a
    # camera or clip id, so an operator groups cameras (a site, a region) to see them apart.
    metrics_group = models.CharField(max_length=50, blank=True, help_text="Metrics label; blank: the customer's name.")

    class Meta:
        constraints = [
            models.CheckConstraint(name="threshold_0_1", condition=Q(threshold__gte=0) & Q(threshold__lte=1)),
            models.CheckConstraint(name="review_band_0_1", condition=Q(review_band__gte=0) & Q(review_band__lte=1)),
        ]

    def __str__(self):
        return self.name


# The statuses of a clip not processed (yet, or ever): few at any time, read by /metrics (#13).
CLIP_NOT_DONE = ("queued", "processing", "failed")


class Clip(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        PROCESSING = "processing"
        DONE = "done"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    camera = models.ForeignKey(Camera, on_delete=models.PROTECT, related_name="clips")
    recorded_at = models.DateTimeField()
    # NULL rather than "" for clips without one: the unique constraint below skips NULLs.
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    file = models.FileField(max_length=300)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField()
    duration = models.FloatField()
    fps = models.FloatField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # When its last message went to the worker (NULL: the send failed, the broker was down). The
    # stuck-clip sweep sends a clip again only when this is old: a clip waiting behind a backlog
    # gets one more message per sweep age, not one per sweep.
    sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    score = models.FloatField(null=True, blank=True)
    alert = models.BooleanField(null=True, blank=True)
    alert_sent_at = models.DateTimeField(null=True, blank=True)
    model_version = models.CharField(max_length=100, blank=True)
    frames_sampled = models.PositiveIntegerField(null=True, blank=True)
    frames_detected = models.PositiveIntegerField(
        null=True, blank=True, help_text="Sampled frames that changed enough to run the detector on."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    decode_ms = models.FloatField(null=True, blank=True)
    detect_ms = models.FloatField(null=True, blank=True)
    # What the clip would have scored without the camera's suppression rules (0: nothing suppressed).
    suppressed_score = models.FloatField(null=True, blank=True)
    verifier_version = models.CharField(max_length=100, blank=True)
    # The second look (SECOND_LOOK, inference/second_look.py): the detector that decided the clip a
    # second time ("" when it had none), and what the first pass had said. Reviewers only.
    second_look = models.CharField(max_length=150, blank=True)
    first_score = models.FloatField(
        null=True, blank=True, help_text="The first pass's score, when a second look decided."
    )
    first_alert = models.BooleanField(null=True, blank=True)
    second_look_ms = models.FloatField(null=True, blank=True)
    # Measured by the pipeline on the sampled frames (monitoring): infrared (night) footage is
    # nearly grey, so a low mean saturation means night; detections_count feeds the drift check.
    saturation = models.FloatField(null=True, blank=True, help_text="Mean HSV saturation of the sampled frames, 0-255.")
    brightness = models.FloatField(
        null=True, blank=True, help_text="Mean brightness (HSV value) of the sampled frames, 0-255."
    )
    detections_count = models.PositiveIntegerField(null=True, blank=True, help_text="Person boxes stored for the clip.")
    # The per-frame detail (every box of every frame, reviewapp/review/detail.py) in the default
    # storage beside the clip; blank for clips processed before it existed (their Detection rows).
    detail = models.CharField(max_length=300, blank=True, editable=False)
    detail_expired_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When its detail was deleted (CLIP_DETAIL_RETENTION_DAYS)."
    )
    # The browser copy (reviewapp/review/preview.py) beside the file; empty when the original plays
    # in browsers already, or the copy could not be made. The original stays the evidence.
    preview = models.FileField(max_length=300, blank=True)

    objects = ClipQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["camera", "-recorded_at"]),
            models.Index(fields=["status", "created_at"]),
            # Error analysis and the drift check select clips by time across all cameras.
            models.Index(fields=["recorded_at"], name="clip_recorded_at"),
            # What changed lately, by time: the label sync's discovery window.
            models.Index(fields=["finished_at"], name="clip_finished_at"),
            # A customer's alerts, newest first, and their count (the alerts API and page): the
            # few % of clips that alerted, not every clip of the customer's cameras (#13). A page
            # of their keys from the index alone (DeferredJoin): the id breaks recorded_at's ties,
            # and `alert`, though implied, lets SQLite see the index as covering.
            models.Index(
                fields=["camera", "-recorded_at", "-id", "alert"], condition=Q(alert=True), name="clip_alerts"
            ),
            # /metrics' suppressed clips of the last hours: only the clips a rule touched (#13).
            models.Index(fields=["recorded_at"], condition=Q(suppressed_score__gt=0), name="clip_suppressed"),
            # /metrics' clips of the last hours not done: only those (the status index and the
            # time index ANDed read the window's 317,000 clips' entries at 10 M: 14 ms).
            models.Index(fields=["recorded_at"], condition=Q(status__in=CLIP_NOT_DONE), name="clip_not_done"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["camera", "sha256"], name="clip_unique_file_per_camera"),
            models.UniqueConstraint(
                fields=["external_id"], condition=Q(external_id__isnull=False), name="clip_unique_external_id"
            ),
        ]

    def __str__(self):
        return f"{self.camera} {self.recorded_at:%Y-%m-%d %H:%M} ({self.id})"

    @property
    def processing_ms(self):
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds() * 1000
        return None


class Detection(models.Model):
    """A few boxes of a processed clip kept in the database (reviewapp.review.detail.summary_detections:
    the deciding box, the best box of each rule that suppressed something); every box of every
    frame is in the clip's detail file. Clips processed before that have a row for every box."""

    clip = models.ForeignKey(Clip, on_delete=models.CASCADE, related_name="detections")
    frame_index = models.PositiveIntegerField()
    frame_time = models.FloatField(help_text="Seconds from the start of the clip.")
    x1 = models.FloatField()
    y1 = models.FloatField()
    x2 = models.FloatField()
    y2 = models.FloatField()
    score = models.FloatField()
    label = models.CharField(max_length=50, default="person")
    # inference.suppression.describe of the box's crop (float32 bytes), kept so a reviewer's
    # "suppress similar" can make a rule from it without decoding the video again.
    descriptor = models.BinaryField(null=True, blank=True, editable=False)
    suppressed_by = models.ForeignKey(
        "SuppressionRule", null=True, blank=True, on_delete=models.SET_NULL, related_name="suppressed_detections"
    )

    class Meta:
        indexes = [models.Index(fields=["clip", "-score"])]
        ordering = ["frame_time", "-score"]

    def __str__(self):
        return f"{self.label} {self.score:.3f} at {self.frame_time:.1f} s of {self.clip_id}"


class Tag(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    key = models.CharField(max_length=1, blank=True, help_text="Keyboard shortcut on the review page.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["key", "slug"]

    def __str__(self):
        return self.name


class ReviewItem(models.Model):
    """A clip waiting for (or given) a human decision. One per clip; a stronger reason upgrades it."""

    class Reason(models.TextChoices):
        CUSTOMER_REPORT = "customer_report", _("Customer Report")
        NEAR_THRESHOLD = "near_threshold", _("Near Threshold")
        AUDIT_SAMPLE = "audit_sample", _("Audit Sample")

    class State(models.TextChoices):
        OPEN = "open"
        DONE = "done"

    # Lower comes first in the queue.
    PRIORITY = {Reason.CUSTOMER_REPORT: 0, Reason.NEAR_THRESHOLD: 1, Reason.AUDIT_SAMPLE: 2}

    clip = models.OneToOneField(Clip, on_delete=models.CASCADE, related_name="review_item")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    priority = models.PositiveSmallIntegerField()
    # |score - threshold| when the item was queued: closest to the threshold first.
    distance = models.FloatField(default=1.0)
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN)
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claimed_until = models.DateTimeField(null=True, blank=True)
    skipped_by = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["state", "priority", "distance", "created_at"], name="queue_order"),
            # The label sync's discovery window for Label Studio tasks (#13).
            models.Index(fields=["created_at"], name="reviewitem_created_at"),
        ]

    def __str__(self):
        return f"{self.reason} {self.clip_id}"


class Review(models.Model):
    """One decision. The history is kept; the newest one for a clip is its verdict."""

    class Verdict(models.TextChoices):
        PERSON = "person", _("Person")
        NO_PERSON = "no_person", _("No Person")

    class Source(models.TextChoices):
        VIGIA = "vigia"
        LABEL_STUDIO = "label_studio"

    item = models.ForeignKey(ReviewItem, on_delete=models.CASCADE, related_name="reviews")
    clip = models.ForeignKey(Clip, on_delete=models.CASCADE, related_name="reviews")
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    tags = models.ManyToManyField(Tag, blank=True, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    note = models.TextField(blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.VIGIA)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ReviewQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["clip", "-created_at"]),
            models.Index(fields=["reviewer", "-created_at"]),
            models.Index(fields=["created_at"], name="review_created_at"),
        ]
        ordering = list(NEWEST_REVIEW_FIRST)

    def __str__(self):
        return f"{self.verdict} on {self.clip_id} by {self.reviewer_id}"


class FalseAlertReport(models.Model):
    clip = models.ForeignKey(Clip, on_delete=models.CASCADE, related_name="reports")
    reported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["clip", "reported_by"], name="one_report_per_user")]
        indexes = [models.Index(fields=["created_at"], name="report_created_at")]

    def __str__(self):
        return f"false-alert report on {self.clip_id}"


class AlertOutbox(models.Model):
    """The outbox of alerts: one row per clip that alerted, written in the same commit as the
    clip's result, so a decided alert is never lost to a crash or an outage between the commit
    and the publish. Sending it (reviewapp.review.alerts) is a step of its own, retried until sent.
    `Clip.alert_sent_at` is still set when it is sent, for the readers that use it."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"  # a permanent error (a bad topic, a denied permission): sent again by hand

    clip = models.OneToOneField(Clip, on_delete=models.CASCADE, related_name="outbox")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # When the next try is due; a try in flight holds it ahead (a lease), so two senders never overlap.
    next_attempt_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=200, blank=True, help_text="SNS's id of the published message.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="alert_outbox_due")]

    def __str__(self):
        return f"alert {self.status} for {self.clip_id}"


class PruneCursor(models.Model):
    """How far the retention's sweep (reviewapp.review.prune) has got, in (recorded_at, id) order:
    the next run carries on from here instead of reading the kept old clips again. One row."""

    name = models.CharField(max_length=16, unique=True, default="clips")
    recorded_at = models.DateTimeField(null=True, blank=True)
    clip_id = models.UUIDField(null=True, blank=True)  # NULL: from recorded_at on, inclusive
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"prune sweep at {self.recorded_at or 'the start'}"

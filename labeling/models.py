"""What has reached which outside system.

One row per (object, destination), like Label Studio's own storage sync: "what is not synced yet"
is one anti-join query (labeling.sync), and a row marked done is never sent again unless its object
changes. `version` is the object's change marker we want the destination to hold; `sent_version`
the one it holds.
"""

from django.conf import settings
from django.db import models

from reviewapp.review.models import Clip, Review, ReviewItem


class SyncState(models.Model):
    class Destination(models.TextChoices):
        DYNAMODB = "dynamodb", "DynamoDB item (per clip)"
        LS_TASK = "ls_task", "Label Studio task (per review item)"
        LS_ANNOTATION = "ls_annotation", "Label Studio annotation (per Vigia review)"

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    destination = models.CharField(max_length=16, choices=Destination.choices)
    # The object's primary key as text: the upsert needs one non-null unique key
    # (a partial unique index on three nullable FKs cannot be an ON CONFLICT target).
    object_key = models.CharField(max_length=64)
    clip = models.ForeignKey(Clip, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(ReviewItem, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    review = models.ForeignKey(Review, null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    version = models.DateTimeField(help_text="The object's last change we want the destination to hold.")
    sent_version = models.DateTimeField(null=True, blank=True, help_text="The last change it holds.")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField()
    # A sender claims rows with a lease longer than the task's hard time limit: a killed worker's
    # rows come back to `pending` by themselves when the lease runs out.
    lease = models.CharField(max_length=32, blank=True)
    leased_until = models.DateTimeField(null=True, blank=True)
    remote_id = models.CharField(max_length=64, blank=True, help_text="Label Studio task / annotation id.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["destination", "object_key"], name="one_sync_state_per_destination"),
        ]
        indexes = [
            models.Index(fields=["destination", "status", "next_attempt_at"], name="sync_due"),
            models.Index(fields=["destination", "clip"], name="sync_by_clip"),
            models.Index(fields=["destination", "item"], name="sync_by_item"),
            models.Index(fields=["destination", "review"], name="sync_by_review"),
            # What changed lately (a task that became done): the annotations' discovery window (#13).
            models.Index(fields=["destination", "updated_at"], name="sync_changed"),
        ]

    def __str__(self):
        return f"{self.destination} {self.object_key}: {self.status}"


class InboundAnnotation(models.Model):
    """One Label Studio annotation event taken in: (annotation, its updated_at) is unique, so a
    duplicate webhook delivery does nothing."""

    annotation_id = models.BigIntegerField()
    annotation_updated_at = models.CharField(max_length=64)
    action = models.CharField(max_length=32)
    review = models.ForeignKey(Review, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["annotation_id", "annotation_updated_at", "action"], name="one_event_per_change"
            ),
        ]

    def __str__(self):
        return f"{self.action} annotation {self.annotation_id}"


# ------------------------------------------------------------------- training-set exports


class ExportRun(models.Model):
    """One training-set export: what was asked, where it went, what it holds, or why it failed.

    Created `queued` only after its parameters were checked and its selection found non-empty;
    the Celery task moves it to `running` with a conditional UPDATE and to `done` / `failed`."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    params = models.JSONField(help_text="The export's options, as validated.")
    name = models.CharField(max_length=100, blank=True, help_text="The export's folder / prefix name.")
    location = models.CharField(max_length=500, blank=True, help_text="Where the complete export is.")
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # Progress while running, written every PROGRESS_EVERY images (labeling.export.writers);
    # when done both are the images written (planned frames a clip could not give are dropped).
    images_done = models.PositiveIntegerField(default=0)
    images_total = models.PositiveIntegerField(default=0, help_text="Images planned (frames and augmented copies).")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    trigger = models.CharField(max_length=16, default="manual", help_text="admin, command, schedule, page")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "started_at"], name="export_status")]

    def __str__(self):
        return f"export {self.id} ({self.status})"

    @property
    def progress_percent(self) -> int | None:
        """0-100 while images are being written, None before the total is known."""
        if not self.images_total:
            return None
        return min(100, round(100 * self.images_done / self.images_total))


# ------------------------------------------------------------------ near-threshold extraction


class ExtractionPeriod(models.Model):
    """One period the near-threshold job has looked at, and where its metadata files are."""

    start = models.DateTimeField()
    end = models.DateTimeField()
    target = models.CharField(max_length=500)
    clips = models.PositiveIntegerField(default=0)
    runs = models.PositiveIntegerField(default=0)
    last_run_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-start"]
        constraints = [models.UniqueConstraint(fields=["start", "end"], name="one_extraction_per_period")]

    def __str__(self):
        return f"{self.start:%Y-%m-%d %H:%M} – {self.end:%H:%M}: {self.clips} clip(s)"


class ExtractedClip(models.Model):
    """A clip the near-threshold job has queued for review and copied out. One row per clip, ever:
    a re-run of the same (or an overlapping) period finds it here and does not add it again."""

    clip = models.OneToOneField(Clip, on_delete=models.CASCADE, related_name="+")
    period = models.ForeignKey(ExtractionPeriod, on_delete=models.CASCADE, related_name="extracted")
    object_key = models.CharField(max_length=500)
    score = models.FloatField()
    threshold = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["period", "clip__camera__name", "clip__recorded_at"]

    def __str__(self):
        return f"{self.clip_id} -> {self.object_key}"


class SyncCursor(models.Model):
    """How far discovery has looked, per destination: the newest change it has queued. The next
    tick only looks at what changed after it (less a margin), so a tick costs what changed, not
    how many clips exist. (An index on SyncState.version would give the same number, but SQLite
    then uses it for the anti-join's per-clip lookup: 100x slower.)"""

    destination = models.CharField(max_length=16, choices=SyncState.Destination.choices, unique=True)
    discovered_until = models.DateTimeField()

    def __str__(self):
        return f"{self.destination} discovered until {self.discovered_until:%Y-%m-%d %H:%M:%S}"

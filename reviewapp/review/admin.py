from django.contrib import admin, messages

from reviewapp.review import alerts
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
from reviewapp.tuning.models import ThresholdChange


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    search_fields = ["name"]
    list_display = ["name", "timezone", "created_at"]


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "customer", "timezone"]
    list_filter = ["role", "customer"]
    search_fields = ["user__username"]
    autocomplete_fields = ["customer"]


@admin.register(Camera)
class CameraAdmin(admin.ModelAdmin):
    list_display = ["name", "customer", "threshold", "review_band", "width", "height", "metrics_group"]
    list_filter = ["customer"]
    list_editable = ["threshold", "review_band"]
    search_fields = ["name", "customer__name"]

    def save_model(self, request, obj, form, change):
        # A threshold typed here is recorded like the "apply" button's, with no evidence behind it.
        old = Camera.objects.filter(pk=obj.pk).values_list("threshold", flat=True).first() if change else None
        super().save_model(request, obj, form, change)
        if old is not None and old != obj.threshold:
            ThresholdChange.objects.create(
                camera=obj,
                old_threshold=old,
                new_threshold=obj.threshold,
                changed_by=request.user,
                evidence={"source": "admin"},
            )


class DetectionInline(admin.TabularInline):
    model = Detection
    extra = 0
    # Every box of every frame is in the clip's detail file (Clip.detail); these are the few kept here.
    verbose_name_plural = "detections kept in the database (the deciding box, the best of each rule)"
    readonly_fields = ["frame_index", "frame_time", "x1", "y1", "x2", "y2", "score", "label", "suppressed_by"]
    can_delete = False


@admin.register(Clip)
class ClipAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "camera",
        "recorded_at",
        "status",
        "score",
        "alert",
        "model_version",
        "decode_ms",
        "detect_ms",
    ]
    list_filter = ["status", "alert", "camera__customer", "model_version"]
    search_fields = ["id", "external_id", "camera__name", "sha256"]
    date_hierarchy = "recorded_at"
    readonly_fields = [f.name for f in Clip._meta.fields]
    inlines = [DetectionInline]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "key", "active"]
    list_editable = ["name", "key", "active"]


@admin.register(ReviewItem)
class ReviewItemAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "clip",
        "reason",
        "state",
        "priority",
        "distance",
        "claimed_by",
        "claimed_until",
        "created_at",
    ]
    list_filter = ["state", "reason"]
    raw_id_fields = ["clip"]
    search_fields = ["clip__id"]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["id", "clip", "verdict", "reviewer", "created_at"]
    list_filter = ["verdict", "tags", "reviewer"]
    raw_id_fields = ["clip", "item"]
    date_hierarchy = "created_at"


@admin.register(FalseAlertReport)
class FalseAlertReportAdmin(admin.ModelAdmin):
    list_display = ["clip", "reported_by", "created_at"]
    raw_id_fields = ["clip"]
    date_hierarchy = "created_at"


@admin.register(AlertOutbox)
class AlertOutboxAdmin(admin.ModelAdmin):
    """The alert outbox: what was sent, what is still owed, and what SNS refused (send it again
    once the topic or the permission is fixed)."""

    list_display = ["clip", "camera", "status", "attempts", "next_attempt_at", "sent_at", "created_at", "last_error"]
    list_filter = ["status", "clip__camera__customer"]
    search_fields = ["clip__id", "clip__camera__name"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in AlertOutbox._meta.fields]
    list_select_related = ["clip__camera"]
    actions = ["send_again"]

    @admin.display(description="camera", ordering="clip__camera__name")
    def camera(self, obj):
        return obj.clip.camera.name

    @admin.action(description="Send again", permissions=["change"])
    def send_again(self, request, queryset):
        count = alerts.alerts_send_again(ids=list(queryset.values_list("id", flat=True)))
        self.message_user(request, f"{count} alert(s) queued to be sent again.", messages.SUCCESS)

    def has_add_permission(self, request):
        return False  # rows come from the worker's decisions only

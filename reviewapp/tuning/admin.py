from django.contrib import admin

from reviewapp.tuning.models import (
    SuppressionRule,
    ThresholdChange,
    ThresholdRecommendation,
)


@admin.register(SuppressionRule)
class SuppressionRuleAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "camera",
        "active",
        "flagged",
        "hits",
        "last_hit_at",
        "expires_at",
        "created_by",
        "created_at",
    ]
    list_filter = ["active", "flagged", "camera__customer"]
    list_editable = ["active"]
    search_fields = ["camera__name", "note", "flag_reason"]
    raw_id_fields = ["camera", "source_review", "source_clip"]
    readonly_fields = [
        "x1",
        "y1",
        "x2",
        "y2",
        "descriptor_version",
        "source_review",
        "source_clip",
        "source_score",
        "source_detections",
        "created_by",
        "created_at",
        "updated_at",
        "hits",
        "last_hit_at",
        "flagged_at",
    ]
    date_hierarchy = "created_at"


@admin.register(ThresholdRecommendation)
class ThresholdRecommendationAdmin(admin.ModelAdmin):
    list_display = [
        "camera",
        "is_global",
        "threshold",
        "reviews",
        "positives",
        "negatives",
        "fallback_reason",
        "computed_at",
    ]
    readonly_fields = [f.name for f in ThresholdRecommendation._meta.fields]

    def has_add_permission(self, request):
        return False  # computed, never typed in


@admin.register(ThresholdChange)
class ThresholdChangeAdmin(admin.ModelAdmin):
    list_display = ["camera", "old_threshold", "new_threshold", "changed_by", "changed_at"]
    list_filter = ["camera__customer"]
    readonly_fields = [f.name for f in ThresholdChange._meta.fields]

    def has_add_permission(self, request):
        return False  # written by the "apply" button and by threshold edits in the camera admin

    def has_change_permission(self, request, obj=None):
        return False  # an audit trail

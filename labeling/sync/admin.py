from django.contrib import admin, messages

from labeling.models import InboundAnnotation, SyncState
from labeling.sync import state


@admin.register(SyncState)
class SyncStateAdmin(admin.ModelAdmin):
    list_display = [
        "destination",
        "object_key",
        "status",
        "attempts",
        "next_attempt_at",
        "short_error",
        "remote_id",
        "updated_at",
    ]
    list_filter = ["status", "destination"]
    search_fields = ["object_key", "remote_id", "last_error"]
    readonly_fields = [f.name for f in SyncState._meta.fields]
    actions = ["retry"]

    @admin.display(description="last error")
    def short_error(self, obj):
        return obj.last_error[:120]

    @admin.action(description="Send again (after fixing the cause)")
    def retry(self, request, queryset):
        n = state.sync_retry_failed(ids=list(queryset.values_list("id", flat=True)))
        self.message_user(request, f"{n} failed row(s) queued again", messages.SUCCESS)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "title": f"Sync state — {state.sync_counts()}"}
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request):
        return False


@admin.register(InboundAnnotation)
class InboundAnnotationAdmin(admin.ModelAdmin):
    list_display = ["annotation_id", "action", "annotation_updated_at", "review", "received_at"]
    list_filter = ["action"]
    readonly_fields = [f.name for f in InboundAnnotation._meta.fields]

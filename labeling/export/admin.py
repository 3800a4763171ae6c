from django.conf import settings
from django.contrib import admin, messages
from django.utils.html import format_html

from labeling.export import service as export
from labeling.models import ExportRun, ExtractedClip, ExtractionPeriod
from reviewapp.core.errors import ApplicationError


@admin.register(ExportRun)
class ExportRunAdmin(admin.ModelAdmin):
    """The "New export" button (top right) opens the export page; "Run again" re-queues runs
    with the same options."""

    change_list_template = "admin/labeling/exportrun/change_list.html"
    list_display = [
        "id",
        "name",
        "status",
        "trigger",
        "requested_by",
        "images",
        "progress",
        "created_at",
        "finished_at",
        "short_error",
    ]
    list_filter = ["status", "trigger"]
    search_fields = ["name", "location", "error"]
    readonly_fields = [f.name for f in ExportRun._meta.fields]
    actions = ["run_again"]

    @admin.display(description="images")
    def images(self, obj):
        return obj.counts.get("images") if obj.counts else None

    @admin.display(description="progress")
    def progress(self, obj):
        """Images written of those planned, updated while the export runs."""
        if not obj.images_total:
            return "–"
        return f"{obj.images_done} / {obj.images_total} ({obj.progress_percent}%)"

    @admin.display(description="error")
    def short_error(self, obj):
        return obj.error[:120]

    @admin.action(description="Run again with the same options", permissions=["change"])
    def run_again(self, request, queryset):
        for run in queryset:
            try:
                new = export.export_request(
                    options=run.params, user=request.user, trigger="admin", local_only_under=settings.EXPORT_ROOT
                )
            except ApplicationError as exc:
                self.message_user(request, f"export {run.id}: {exc.message}", messages.ERROR)
            else:
                self.message_user(request, format_html("export {} queued as {}", run.id, new.id), messages.SUCCESS)

    def has_add_permission(self, request):
        return False  # exports start from the export page (the "New export" button)


@admin.register(ExtractionPeriod)
class ExtractionPeriodAdmin(admin.ModelAdmin):
    list_display = ["start", "end", "clips", "runs", "last_run_at", "target"]
    readonly_fields = [f.name for f in ExtractionPeriod._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(ExtractedClip)
class ExtractedClipAdmin(admin.ModelAdmin):
    list_display = ["clip", "period", "score", "threshold", "object_key", "created_at"]
    search_fields = ["object_key", "clip__id"]
    readonly_fields = [f.name for f in ExtractedClip._meta.fields]

    def has_add_permission(self, request):
        return False

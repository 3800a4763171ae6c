"""The staff page that starts a training-set export, prefilled from the shared filter vocabulary
(`camera`, `customer`, `tag`, `since`, `until`, `model_version`): the error-analysis page and the
admin link here. GET shows the form and what the filters select; POST checks and queues."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from labeling.export import service as export
from labeling.export.options import ExportOptions, export_options_clean
from labeling.export.selection import balance, export_candidates
from labeling.models import ExportRun
from reviewapp.core.errors import ApplicationError
from reviewapp.review.filters import FILTER_NAMES, declared


def _raw(data) -> dict:
    raw = {}
    for f, opt in declared(ExportOptions):
        values = [v for v in data.getlist(f.name) if v.strip()]
        if values:
            raw[f.name] = values if opt.repeatable else values[0]
    return raw


def _preview(raw: dict) -> tuple[dict | None, str]:
    """What these filters would export with these options, or why they cannot."""
    try:
        opts = export_options_clean(raw, local_only_under=settings.EXPORT_ROOT)
        selection = balance(export_candidates(opts), opts)
    except ApplicationError as exc:
        return None, exc.message
    return {
        "positives": len(selection.positives),
        "hard_negatives": len(selection.hard_negatives),
        "negatives": len(selection.negatives),
        "available": selection.available,
    }, ""


def _shown(value) -> str:
    if isinstance(value, list):  # a repeatable one, as typed
        return ", ".join(value)
    if isinstance(value, tuple):  # a default (the split)
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def page_fields(raw: dict, errors: dict) -> list[dict]:
    """The form's fields, one per declared option (labeling.export.options), prefilled with what
    was given or the default."""
    fields = []
    for f, opt in declared(ExportOptions):
        given = raw.get(f.name)
        fields.append(
            {
                "name": f.name,
                "section": _("Which clips") if f.name in FILTER_NAMES else _("How"),
                "label": opt.label or opt.help,
                "widget": opt.widget,
                "value": _shown(f.default if given is None else given),
                "chosen": set(given or ()) if opt.repeatable else set(),
                "choices": list(opt.known()) if opt.known else [(c, c) for c in opt.choices],
                "placeholder": opt.placeholder() if callable(opt.placeholder) else opt.placeholder,
                "errors": errors.get(f.name, []),
            }
        )
    return fields


@login_required
@require_http_methods(["GET", "POST"])
def export_new(request):
    if not request.user.is_staff:
        raise PermissionDenied
    source = request.POST if request.method == "POST" else request.GET
    raw = _raw(source)
    errors: dict = {}
    general_error = ""
    preview, preview_error = None, ""
    status = 200
    if request.method == "POST":
        try:
            run = export.export_request(
                options=raw, user=request.user, trigger="page", local_only_under=settings.EXPORT_ROOT
            )
        except ApplicationError as exc:
            errors = exc.fields
            general_error = "" if exc.fields else exc.message  # field errors show beside their field
            status = 400
        else:
            messages.success(request, _("Export %(id)s queued (%(name)s).") % {"id": run.id, "name": run.name})
            return redirect(reverse("admin:labeling_exportrun_change", args=[run.id]))
    else:
        preview, preview_error = _preview(raw)
    context = {
        "fields": page_fields(raw, errors),
        "preview": preview,
        "preview_error": preview_error,
        "general_error": general_error,
        # The latest runs with their progress (images done of total), refreshed by reloading.
        "recent": ExportRun.objects.only(
            "id", "name", "status", "images_done", "images_total", "created_at", "finished_at"
        )[:10],
    }
    return render(request, "labeling/export_new.html", context, status=status)

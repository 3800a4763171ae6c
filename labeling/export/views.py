"""The staff page that starts a training-set export, prefilled from the shared filter vocabulary
(`camera`, `customer`, `tag`, `since`, `until`, `model_version`): the error-analysis page and the
admin link here. GET shows the form and what the filters select; POST checks and queues."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from labeling.export import service as export
from reviewapp.core.errors import ApplicationError
from reviewapp.review.models import Tag

FILTERS = ["camera", "customer", "tag", "since", "until", "model_version"]
TUNING = [
    "out",
    "ratio",
    "easy_share",
    "camera_cap",
    "tag_cap",
    "frames_per_clip",
    "box_min_score",
    "split",
    "seed",
    "augment",
    "augment_max",
]


def _raw(data) -> dict:
    raw = {}
    for name in FILTERS + TUNING:
        values = [v for v in data.getlist(name) if v.strip()]
        if values:
            raw[name] = values if name in ("camera", "tag") else values[0]
    return raw


def _preview(raw: dict) -> tuple[dict | None, str]:
    """What these filters would export with these options, or why they cannot."""
    try:
        opts = export.export_options_clean(raw, local_only_under=settings.EXPORT_ROOT)
        selection = export.balance(export.export_candidates(opts), opts)
    except ApplicationError as exc:
        return None, exc.message
    return {
        "positives": len(selection.positives),
        "hard_negatives": len(selection.hard_negatives),
        "negatives": len(selection.negatives),
        "available": selection.available,
    }, ""


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
            messages.success(request, f"Export {run.id} queued ({run.name}).")
            return redirect(reverse("admin:labeling_exportrun_change", args=[run.id]))
    else:
        preview, preview_error = _preview(raw)
    defaults = export.ExportOptions(out="")
    values = {
        "out": raw.get("out", ""),
        "camera": ", ".join(raw.get("camera", [])),
        "customer": raw.get("customer", ""),
        "since": raw.get("since", ""),
        "until": raw.get("until", ""),
        "model_version": raw.get("model_version", ""),
        **{
            k: raw.get(k, "" if getattr(defaults, k) is None else getattr(defaults, k))
            for k in (
                "ratio",
                "easy_share",
                "camera_cap",
                "tag_cap",
                "frames_per_clip",
                "box_min_score",
                "seed",
                "augment",
                "augment_max",
            )
        },
        "split": raw.get("split", ",".join(str(s) for s in defaults.split)),
    }
    context = {
        "values": values,
        "errors": errors,
        "tags": Tag.objects.order_by("slug"),
        "chosen_tags": set(raw.get("tag", [])),
        "augment_choices": export.AUGMENT_CHOICES,
        "preview": preview,
        "preview_error": preview_error,
        "general_error": general_error,
        "default_out": export.default_out(),
    }
    return render(request, "labeling/export_new.html", context, status=status)

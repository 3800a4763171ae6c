"""Monitoring pages: /metrics (Prometheus), error analysis, drift. Thin: parse, call, render."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from functools import lru_cache

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from reviewapp.core import metrics
from reviewapp.core.errors import ApplicationError
from reviewapp.core.roles import is_reviewer, role_required
from reviewapp.monitoring import analysis, analysis_rollups, charts, drift
from reviewapp.monitoring.models import CameraDrift
from reviewapp.review.models import Camera, Customer, Tag

EXPORT_URL = "/labeling/exports/new/"  # the training-set export's form (labeling), by URL only
TABLE_ROWS = 100  # rows of a dimension on the analysis page, most false alerts first


# ---------------------------------------------------------------------------------- /metrics


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]):
    return [ipaddress.ip_network(n.strip(), strict=False) for n in spec if n.strip()]


def metrics_allowed(request) -> bool:
    """Staff, the scraper's bearer token, or an address in METRICS_ALLOWED_NETWORKS. Customers,
    reviewers and the internet get 403: the metrics name customers and reviewers."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    token = settings.METRICS_TOKEN
    auth = request.headers.get("Authorization", "")
    if token and auth.startswith("Bearer ") and constant_time_compare(auth[len("Bearer ") :], token):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in net for net in _networks(tuple(settings.METRICS_ALLOWED_NETWORKS)))


@require_GET
def metrics_view(request):
    if not metrics_allowed(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(metrics.exposition(include_db=True), content_type="text/plain; version=0.0.4; charset=utf-8")


# --------------------------------------------------------------------------- error analysis


def _slice_or_error(request):
    try:
        return analysis.Slice.from_query(request.GET), None
    except ApplicationError as exc:
        return analysis.Slice(), exc


def _url(path: str, s: analysis.Slice) -> str:
    qs = s.query_string()
    return f"{path}?{qs}" if qs else path


@role_required(is_reviewer)
@require_GET
def error_analysis(request):
    if settings.ANALYSIS_DEFAULT_DAYS and "since" not in request.GET and "until" not in request.GET:
        # A window by default, in the URL, so the export link carries what the page shows;
        # `since=` (empty) asks for all time.
        query = request.GET.copy()
        query["since"] = (timezone.localdate() - timedelta(days=settings.ANALYSIS_DEFAULT_DAYS)).isoformat()
        return redirect(f"{request.path}?{query.urlencode()}")
    s, error = _slice_or_error(request)
    context = {
        "slice": s,
        "error": error,
        "cameras": Camera.objects.order_by("name").values_list("name", flat=True),
        "customers": Customer.objects.order_by("name"),
        "tags": Tag.objects.order_by("slug"),
        "model_versions": analysis_rollups.model_versions(),
    }
    if error is not None:
        messages.error(request, error.message)
        return render(request, "monitoring/analysis.html", context, status=400)
    # From the rollups; a slice they cannot answer is counted from the clips (the page says why).
    total, rows_by_dimension, scan_reason = analysis_rollups.page(s)
    sections = []
    for name, (title, _fn) in analysis.DIMENSIONS.items():
        # The worst TABLE_ROWS of a dimension (2,000 cameras' rows took most of the page's time).
        rows, hidden = rows_by_dimension[name][:TABLE_ROWS], max(0, len(rows_by_dimension[name]) - TABLE_ROWS)
        urls = [_url("/analysis/clips/", analysis.refined(s, r.refine, outcome="false_alert")) for r in rows]
        for row, url in zip(rows, urls):
            row.false_url = url
            row.clips_url = _url("/analysis/clips/", analysis.refined(s, row.refine))
            row.missed_url = _url("/analysis/clips/", analysis.refined(s, row.refine, outcome="missed"))
        if name == "day":
            chart = charts.over_time(rows, urls=urls) if rows else ""
        else:
            chart = charts.rate_bars(rows, title=title, urls=urls) if rows else ""
        sections.append({"name": name, "title": title, "rows": rows, "chart": chart, "hidden": hidden})
    export_qs = s.query_string(export_only=True)
    context.update(
        total=total,
        sections=sections,
        scan_reason=scan_reason,
        export_url=f"{EXPORT_URL}?{export_qs}" if export_qs else EXPORT_URL,
        total_false_url=_url("/analysis/clips/", analysis.refined(s, {}, outcome="false_alert")),
    )
    return render(request, "monitoring/analysis.html", context)


@role_required(is_reviewer)
@require_GET
def error_analysis_clips(request):
    s, error = _slice_or_error(request)
    if error is not None:
        messages.error(request, error.message)
        return render(request, "monitoring/analysis_clips.html", {"slice": s, "page": None}, status=400)
    qs = analysis.clips_in_slice(s).select_related("camera", "camera__customer").order_by("-recorded_at")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    export_qs = s.query_string(export_only=True)
    return render(
        request,
        "monitoring/analysis_clips.html",
        {
            "slice": s,
            "page": page,
            "query": s.query_string(),
            "back_url": _url("/analysis/", s.filters_only()),
            "export_url": f"{EXPORT_URL}?{export_qs}" if export_qs else EXPORT_URL,
        },
    )


# ------------------------------------------------------------------------------------ drift


@role_required(is_reviewer)
@require_GET
def drift_page(request):
    results = list(
        CameraDrift.objects.select_related("camera", "camera__customer").order_by(
            "-flagged", "-psi_score", "camera__name"
        )
    )
    flagged = [r for r in results if r.flagged]
    if flagged:
        # The small charts need the bins again: of the flagged cameras only.
        first = flagged[0]
        h = drift.histograms(
            baseline_start=first.baseline_start,
            window_start=first.window_start,
            end=first.checked_at,
            camera_ids=[r.camera_id for r in flagged],
        )
        for r in flagged:
            shares = drift.bin_shares(r.camera_id, h)
            r.score_chart = charts.distributions(*shares["scores"], labels=drift.SCORE_LABELS, title="clip score")
            r.detections_chart = charts.distributions(
                *shares["detections"], labels=drift.DETECTION_LABELS, title="person boxes per clip"
            )
    return render(
        request,
        "monitoring/drift.html",
        {
            "flagged": flagged,
            "others": [r for r in results if not r.flagged],
            "threshold": settings.DRIFT_PSI_THRESHOLD,
            "sample": settings.DRIFT_AUDIT_SAMPLE,
            "window_hours": settings.DRIFT_WINDOW_HOURS,
            "baseline_days": settings.DRIFT_BASELINE_DAYS,
        },
    )


@role_required(is_reviewer)
@require_POST
def drift_audit(request, camera_name):
    camera = get_object_or_404(Camera, name=camera_name)
    n = drift.drift_audit_sample(camera=camera)
    messages.success(
        request,
        _("%(n)s clip(s) of %(camera)s sent to the review queue as an audit sample.") % {"n": n, "camera": camera.name},
    )
    return redirect("drift")

"""Pages for reviewers and operators: per-camera thresholds and suppression rules.

Customers get 403 on every one of them (they never see another customer's cameras, nor their
own camera's tuning: it is the monitoring company's job)."""

from __future__ import annotations

import math
from datetime import timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from reviewapp.core.errors import ApplicationError
from reviewapp.core.roles import is_reviewer, role_required
from reviewapp.review.models import Camera
from reviewapp.tuning import suppression, thresholds
from reviewapp.tuning.models import ThresholdChange, ThresholdRecommendation

# ------------------------------------------------------------------------------- thresholds


@role_required(is_reviewer)
@require_GET
def threshold_list(request):
    cameras = Camera.objects.select_related("customer", "threshold_recommendation").order_by("customer__name", "name")
    global_rec = ThresholdRecommendation.objects.filter(is_global=True).first()
    return render(request, "tuning/thresholds.html", {"cameras": cameras, "global_rec": global_rec})


@role_required(is_reviewer)
@require_GET
def threshold_camera(request, camera_name):
    camera = get_object_or_404(Camera.objects.select_related("customer"), name=camera_name)
    rec = ThresholdRecommendation.objects.filter(camera=camera).first()
    if rec is None or request.GET.get("refresh"):
        # First visit before the beat job ran, or asked for: compute now (reads only reviews; cheap).
        rec = thresholds.recommendation_refresh(camera=camera)
    svg = thresholds.curve_svg(
        curve=rec.evidence.get("curve", []),
        current=camera.threshold,
        proposed=rec.threshold,
        title=f"{camera.name}: {rec.reviews} reviewed clips ({rec.positives} people, {rec.negatives} not)",
    )
    context = {
        "camera": camera,
        "rec": rec,
        "svg": svg,
        "tradeoff": rec.evidence.get("tradeoff"),
        "rates": rec.evidence.get("rates") or {},
        "changes": ThresholdChange.objects.filter(camera=camera).select_related("changed_by")[:20],
        "can_apply": rec.threshold is not None and abs(rec.threshold - camera.threshold) > 1e-9,
    }
    return render(request, "tuning/threshold_camera.html", context)


@role_required(is_reviewer)
@require_POST
def threshold_apply(request, camera_name):
    camera = get_object_or_404(Camera, name=camera_name)
    try:
        recommendation_id = int(request.POST.get("recommendation", ""))
        # NaN compares unequal to everything: it would pass the "changed meanwhile" check.
        expected = _finite(request.POST.get("expected_threshold", ""), "expected_threshold")
    except (ValueError, ApplicationError):
        return _bad_request("The form was incomplete; reload the page and try again.")
    try:
        change = thresholds.threshold_apply(
            camera=camera,
            recommendation_id=recommendation_id,
            expected_threshold=expected,
            user=request.user,
            note=request.POST.get("note", ""),
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"Threshold of {camera.name} changed from {change.old_threshold:g} to {change.new_threshold:g}."
        )
    return redirect("threshold-camera", camera_name=camera.name)


class BadNumber(ApplicationError):
    """A form field that is not a usable number: 400."""


def _bad_request(message: str) -> HttpResponseBadRequest:
    """A form that the page cannot have sent (a number that is not one): 400, with the reason."""
    return HttpResponseBadRequest(f"{message}\n", content_type="text/plain; charset=utf-8")


def _finite(raw: str, name: str, *, limit: float = 1e6) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise BadNumber(f"{name} must be a number", fields={name: ["not a number"]}) from None
    if not math.isfinite(value) or abs(value) > limit:
        raise BadNumber(f"{name} must be a finite number below {limit:g}", fields={name: ["out of range"]})
    return value


# ------------------------------------------------------------------------- suppression rules


@role_required(is_reviewer)
@require_GET
def rule_list(request):
    rules = (
        suppression.rules_visible_to(request.user)
        .annotate(suppressed=Count("suppressed_detections"))
        .order_by("-created_at", "-id")
    )
    show = request.GET.get("show", "active")
    now = timezone.now()
    if show == "active":
        rules = rules.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), active=True)
    elif show == "flagged":
        rules = rules.filter(flagged=True)
    if request.GET.get("camera"):
        rules = rules.filter(camera__name=request.GET["camera"])
    page = Paginator(rules, 50).get_page(request.GET.get("page"))
    return render(
        request, "tuning/rules.html", {"page": page, "show": show, "now": now, "camera": request.GET.get("camera", "")}
    )


MAX_RULE_DAYS = 3650  # ten years; 0 already means "never expires"


def _float_or_none(raw: str | None, name: str, *, limit: float = 1e6) -> float | None:
    return None if raw in (None, "") else _finite(raw, name, limit=limit)


@role_required(is_reviewer)
@require_POST
def rule_edit(request, rule_id):
    rule = get_object_or_404(suppression.rules_visible_to(request.user), id=rule_id)
    action = request.POST.get("action", "save")
    try:
        if action == "disable":
            suppression.suppression_rule_update(rule=rule, user=request.user, active=False)
        elif action == "enable":
            suppression.suppression_rule_update(rule=rule, user=request.user, active=True)
        elif action == "clear_flag":
            suppression.suppression_rule_update(rule=rule, user=request.user, clear_flag=True)
        else:
            days = _float_or_none(request.POST.get("expires_in_days"), "expires_in_days", limit=MAX_RULE_DAYS)
            if days is not None and days < 0:
                raise ApplicationError("expires_in_days cannot be negative", fields={"expires_in_days": ["negative"]})
            suppression.suppression_rule_update(
                rule=rule,
                user=request.user,
                expires_at="keep" if days is None else (None if days == 0 else timezone.now() + timedelta(days=days)),
                iou_min=_float_or_none(request.POST.get("iou_min"), "iou_min"),
                similarity_min=_float_or_none(request.POST.get("similarity_min"), "similarity_min"),
                note=request.POST.get("note"),
            )
    except BadNumber as exc:
        return _bad_request(f"Rule {rule.id}: {exc.message}")
    except ApplicationError as exc:
        messages.error(request, f"Rule {rule.id}: {exc.message}")
    else:
        messages.success(request, f"Rule {rule.id} saved.")
    back = request.POST.get("next", "")
    return redirect(back if back.startswith("/rules/") else "rules")  # never off-site

"""Server-rendered pages for reviewers and customers (session auth, CSRF on every form)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from reviewapp.core.errors import ApplicationError, error_body
from reviewapp.core.pagination import DeferredJoin
from reviewapp.core.roles import is_customer, is_ingest, is_reviewer, role_required
from reviewapp.review import detail, grouping, media, queue, reports, selectors
from reviewapp.review.models import Clip, Detection, ReviewItem, Tag
from reviewapp.tuning import suppression

STRIP_FRAMES = 8


can_see_clips = media.can_see_clips  # the clip pages and their media: one rule


@login_required
def home(request):
    if is_reviewer(request.user):
        return redirect("review")
    if is_customer(request.user):
        return redirect("alerts")
    if is_ingest(request.user):
        return redirect("api-docs")
    raise PermissionDenied


# ------------------------------------------------------------------------------- reviewers


@role_required(is_reviewer)
@require_GET
def review(request):
    item = queue.review_next(reviewer=request.user)
    return render(request, "review/queue.html", _review_context(item, request.user))


@role_required(is_reviewer)
@require_GET
def review_panel(request):
    """The queue page's prefetch: the item after those the page holds (`exclude`), claimed,
    as the HTML of its panel; 204 when there is none. The page swaps it in on a decision."""
    try:
        exclude = [int(v) for v in request.GET.getlist("exclude")][:20]
    except ValueError:
        return JsonResponse(error_body("invalid", "exclude: item ids", {"exclude": ["integers"]}), status=400)
    item = queue.review_next(reviewer=request.user, exclude=exclude)
    if item is None:
        return HttpResponse(status=204)
    return render(request, "review/_panel.html", _review_context(item, request.user))


def _review_context(item, reviewer) -> dict:
    context = {"item": item, "tags": Tag.objects.filter(active=True), "undo_seconds": settings.REVIEW_UNDO_SECONDS}
    if item is not None:
        context.update(_clip_context(item.clip, staff_view=True))
        context["suppressible"] = bool(suppression.suppressible_detections(item.clip))
        # Which places "suppress similar" would cover, shown before the reviewer decides.
        context["rule_preview"] = suppression.rule_preview(item.clip) if context["suppressible"] else []
        context["static_tags"] = suppression.STATIC_TAGS
        # Many clips, one decision: the camera's open items showing the same thing there.
        context["group"] = grouping.review_group(item=item, reviewer=reviewer) if context["suppressible"] else []
        context["group_ids"] = ",".join(str(m.id) for m in context["group"])
    return context


@role_required(is_reviewer)
@require_POST
def review_decide(request, item_id):
    item = get_object_or_404(ReviewItem, id=item_id)
    action = request.POST.get("action", "decide")
    if action == "skip":
        queue.review_skip(item=item, reviewer=request.user)
        return redirect("review")
    try:
        queue.review_record(
            item=item,
            reviewer=request.user,
            verdict=request.POST.get("verdict", ""),
            tags=request.POST.getlist("tags"),
            note=request.POST.get("note", "")[:2000],
            suppress_similar=bool(request.POST.get("suppress_similar")),
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(_next_url(request))
    messages.success(request, _("Saved: %(verdict)s.") % {"verdict": request.POST.get("verdict").replace("_", " ")})
    return HttpResponseRedirect(_next_url(request))


def _next_url(request) -> str:
    """Where a form goes back to: `next` when it is a page of this site, else the queue."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("review")


# ------------------------------------------------------------------------------------ clips


def _strip_indices(clip: Clip, detections) -> list[int]:
    """The frames a reviewer sees: those with the strongest detections, then evenly spread ones."""
    best: dict[int, float] = {}
    for d in detections:
        best[d.frame_index] = max(best.get(d.frame_index, 0.0), d.score)
    chosen = sorted(best, key=best.get, reverse=True)[:STRIP_FRAMES]
    total = max(int(clip.duration * clip.fps), 1)
    step = max(total // STRIP_FRAMES, 1)
    for index in range(0, total, step):
        if len(chosen) >= STRIP_FRAMES:
            break
        if index not in chosen:
            chosen.append(index)
    return sorted(chosen)


def _suppressed_by_rule(detections) -> list[dict]:
    """Detections a suppression rule kept out of the decision, per rule: shown, never hidden."""
    by_rule: dict[int, dict] = {}
    for d in detections:
        if d.suppressed_by_id is not None:
            row = by_rule.setdefault(d.suppressed_by_id, {"rule": d.suppressed_by_id, "count": 0, "best": 0.0})
            row["count"] += 1
            row["best"] = max(row["best"], d.score)
    return sorted(by_rule.values(), key=lambda r: -r["best"])


def _clip_context(clip: Clip, *, staff_view: bool) -> dict:
    """What a clip's page shows. A customer (staff_view False) sees the video, the frames, the
    score and the verdict's outcome, never who reviewed it, their notes, the processing error
    or the suppression rules: those are the service's internals."""
    found = detail.clip_detail(clip)
    # Gone (expired or missing): the page shows the boxes the database kept, and says so.
    detections = found.boxes if found is not None else list(clip.detections.all())
    return {
        "clip": clip,
        "staff_view": staff_view,
        "detail_gone": found is None,
        "retention_days": settings.CLIP_DETAIL_RETENTION_DAYS,
        "detections": sorted(detections, key=lambda d: (d.frame_time, -d.score)),
        "strip": [{"index": i, "time": i / clip.fps if clip.fps else 0.0} for i in _strip_indices(clip, detections)]
        if clip.status == Clip.Status.DONE
        else [],
        "reviews": clip.reviews.select_related("reviewer").prefetch_related("tags") if staff_view else [],
        "suppressed": _suppressed_by_rule(detections) if staff_view else [],
        "reports": clip.reports.all(),
    }


@role_required(can_see_clips)
@require_GET
def clip_page(request, clip_id):
    clip = selectors.clip_get_visible(user=request.user, clip_id=clip_id)
    context = _clip_context(clip, staff_view=is_reviewer(request.user))
    context["tags"] = Tag.objects.filter(active=True)
    context["item"] = getattr(clip, "review_item", None) if is_reviewer(request.user) else None
    return render(request, "clips/detail.html", context)


# -------------------------------------------------------------------------------- customers


@role_required(is_customer)
@require_GET
def alerts(request):
    """The customer's alerts: each with the frame that alerted, whether a reviewer confirmed it
    (the newest verdict, never who nor why) and whether they reported it."""
    clips = selectors.alerts_for_customer(user=request.user).with_verdict()
    clips = clips.prefetch_related("reports", Prefetch("detections", Detection.objects.defer("descriptor")))
    page = Paginator(DeferredJoin(clips), 50).get_page(request.GET.get("page"))  # as the API's (#13)
    for clip in page:
        decided = media.decided_detection(clip.detections.all())
        clip.key_frame = decided.frame_index if decided is not None else None
    return render(request, "alerts/list.html", {"page": page})


@role_required(can_see_clips)
@require_GET
def alert_page(request, clip_id):
    clip = selectors.clip_get_visible(user=request.user, clip_id=clip_id)
    context = _clip_context(clip, staff_view=is_reviewer(request.user))
    context["reported"] = clip.reports.filter(reported_by=request.user).exists()
    newest = selectors.latest_review(clip)
    context["verdict"] = newest.verdict if newest is not None else None  # the verdict alone
    return render(request, "alerts/detail.html", context)


@role_required(is_customer)
@require_POST
def alert_report(request, clip_id):
    clip = selectors.clip_get_visible(user=request.user, clip_id=clip_id)
    try:
        _report, created = reports.false_alert_report(
            clip=clip, user=request.user, reason=request.POST.get("reason", "")[:2000]
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("Thank you: a reviewer will look at this clip.") if created else _("You had already reported this clip."),
        )
    return redirect("alert", clip_id=clip.id)

"""The review history: every decision, filtered with the clip filters' vocabulary
(reviewapp/review/filters.py) plus verdict and reviewer, on a page or as CSV.

    camera, customer, model_version   as for clips (the decided clip's)
    tag                               decisions that gave one of these tags
    since, until                      when the decision was made (the filters' one date rule)
    verdict                           person / no_person
    reviewer                          usernames; repeatable
    mine                              only the viewer's own decisions
    format=csv                        the whole filtered history as CSV (streamed)
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, QuerySet
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from reviewapp.core.errors import ApplicationError, error_body
from reviewapp.core.roles import is_reviewer, role_required
from reviewapp.review import filters
from reviewapp.review.filters import ClipFilters, option, option_like
from reviewapp.review.models import Camera, Customer, Review, Tag

CSV_COLUMNS = [
    "decided_at",
    "clip_id",
    "camera",
    "customer",
    "recorded_at",
    "verdict",
    "tags",
    "reviewer",
    "source",
    "note",
    "score",
    "model_version",
]


def _reviewers(values: list[str]) -> tuple[str, ...]:
    wanted = sorted(set(values))
    found = set(get_user_model().objects.filter(username__in=wanted).values_list("username", flat=True))
    unknown = [v for v in wanted if v not in found]
    if unknown:
        raise ValueError(f"unknown reviewer(s): {', '.join(unknown)}")
    return tuple(wanted)


def _yes(value) -> bool:
    return filters.text(value).lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True, kw_only=True)
class HistoryFilters(ClipFilters):
    tag: tuple[str, ...] = option_like(ClipFilters, "tag", help="decisions that gave this tag; repeatable")
    since: str | None = option_like(ClipFilters, "since", help="decided at or after: ISO date or date-time")
    until: str | None = option_like(
        ClipFilters, "until", help="decided before: ISO date (that whole day included) or date-time (excluded)"
    )
    verdict: str = option("", help="the decision's verdict", check=filters.one_of(Review.Verdict.values))
    reviewer: tuple[str, ...] = option((), help="reviewer username; repeatable", check=_reviewers, repeatable=True)
    mine: bool = option(False, help="only the viewer's own decisions", check=_yes)


def reviews_filtered(f: HistoryFilters, *, viewer) -> QuerySet[Review]:
    """The decisions matching the filters, newest first."""
    qs = Review.objects.select_related("clip__camera__customer", "reviewer").prefetch_related("tags")
    if f.camera:
        qs = qs.filter(clip__camera__name__in=f.camera)
    if f.customer is not None:
        qs = qs.filter(clip__camera__customer_id=f.customer)
    if f.model_version:
        qs = qs.filter(clip__model_version=f.model_version)
    if f.since:
        qs = qs.filter(created_at__gte=f.since_at)
    if f.until:
        qs = qs.filter(created_at__lt=f.until_before)
    if f.tag:
        qs = qs.filter(Exists(Review.tags.through.objects.filter(review_id=OuterRef("pk"), tag__slug__in=f.tag)))
    if f.verdict:
        qs = qs.filter(verdict=f.verdict)
    if f.reviewer:
        qs = qs.filter(reviewer__username__in=f.reviewer)
    if f.mine:
        qs = qs.filter(reviewer=viewer)
    return qs.order_by("-created_at", "-id")


def _cell(value) -> str:
    """A CSV cell a spreadsheet shows as text: a leading = + - @ would make it a formula."""
    value = "" if value is None else str(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


class _Echo:
    def write(self, value):
        return value


def csv_rows(qs: QuerySet[Review]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for r in qs.iterator(chunk_size=2000):
        clip = r.clip
        yield writer.writerow(
            [
                r.created_at.isoformat(),
                clip.id,
                clip.camera.name,
                clip.camera.customer.name,
                clip.recorded_at.isoformat(),
                r.verdict,
                ";".join(sorted(t.slug for t in r.tags.all())),
                r.reviewer.username,
                r.source,
                _cell(r.note),
                "" if clip.score is None else f"{clip.score:.4f}",
                _cell(clip.model_version),
            ]
        )


def _page_context(f: HistoryFilters | None) -> dict:
    params = [] if f is None else filters.declared_params(f, HistoryFilters)
    return {
        "filters": f or HistoryFilters(),
        "cameras": Camera.objects.order_by("name").values_list("name", flat=True),
        "customers": Customer.objects.order_by("name"),
        "tags": Tag.objects.order_by("slug"),
        "reviewers": get_user_model().objects.filter(reviews__isnull=False).distinct().order_by("username"),
        "verdicts": Review.Verdict.choices,
        # The filters again, for the pages' links and the CSV ("mine" only when set).
        "query": urlencode([(n, v) for n, v in params if (n, v) != ("mine", "False")]),
    }


@role_required(is_reviewer)
@require_GET
def review_history(request):
    try:
        f = filters.clip_filters_parse(HistoryFilters, request.GET)
    except ApplicationError as exc:
        if request.GET.get("format") == "csv":
            return JsonResponse(error_body(exc.code, exc.message, exc.fields), status=400)
        messages.error(request, exc.message)
        return render(request, "review/history.html", {**_page_context(None), "page": None}, status=400)
    qs = reviews_filtered(f, viewer=request.user)
    if request.GET.get("format") == "csv":
        response = StreamingHttpResponse(csv_rows(qs), content_type="text/csv; charset=utf-8")
        name = f"vigia-decisions-{timezone.now():%Y%m%d-%H%M}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "review/history.html", {**_page_context(f), "page": page})

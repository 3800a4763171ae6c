"""The filter vocabulary of clips, one for error analysis (reviewapp.monitoring.analysis) and the
training-set export (labeling.export): the same names, parsing, date rule and error, so a slice
seen on the analysis page is exported with the same query string.

    camera         camera names; repeatable (or separated by commas)
    customer       a customer id
    tag            tag slugs; repeatable: clips whose newest review has one of them
    since          an ISO date or date-time, included
    until          the cut-off: an ISO date (that whole day included) or a date-time (excluded)
    model_version  the model version that scored the clip

A day starts at midnight in the current time zone (UTC today; the viewer's in a later issue).

Declared fields: a dataclass field whose metadata holds an `Option` says its name, type (the
annotation), default, check (bounds, choices), help and whether it repeats. `declared_read` reads
and checks every declared field of a class from a request's GET, a form or a command line at once;
the export builds its command's arguments and its page's fields from the same declaration.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import Field, dataclass, field, fields, replace
from datetime import datetime, time, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _

from reviewapp.core.errors import ApplicationError
from reviewapp.review.models import Camera, Customer, Review, Tag

# ---------------------------------------------------------------------------- declaration


def text(value: Any) -> str:
    return str(value).strip()


@dataclass(frozen=True)
class Option:
    help: str
    label: str = ""  # on a page; the help when blank
    check: Callable[[Any], Any] = text  # the given value -> the clean one; ValueError(message) if bad
    repeatable: bool = False  # a list: the value given several times, or separated by commas
    choices: tuple[str, ...] = ()
    widget: str = ""  # how a page asks for it: "" a text box, "select", "checkboxes" (of `known`)
    known: Callable[[], Iterable[tuple[str, str]]] | None = None  # (value, label) a page offers
    placeholder: str | Callable[[], str] = ""  # a page's hint in the empty box


def option(default: Any, *, help: str, **kwargs) -> Any:
    """A dataclass field declared as an option (see the module docstring)."""
    return field(default=default, metadata={"option": Option(help=help, **kwargs)})


def option_like(cls: type, name: str, **changes) -> Any:
    """The declared field `name` of `cls` again, its Option changed: for a subclass that reads the
    same field differently (and says so in its help)."""
    base = cls.__dataclass_fields__[name]
    return field(default=base.default, metadata={"option": replace(base.metadata["option"], **changes)})


def declared(cls: type) -> list[tuple[Field, Option]]:
    return [(f, f.metadata["option"]) for f in fields(cls) if "option" in f.metadata]


def number(kind: type, *, low: float | None = None, high: float | None = None, low_open: bool = False):
    """The check of an int or float option within bounds (`low_open`: `low` itself excluded)."""

    def check(value):
        try:
            value = kind(value)
            if kind is float and not math.isfinite(value):
                raise ValueError
        except (TypeError, ValueError):
            raise ValueError(_("must be an integer") if kind is int else _("must be a number")) from None
        if low is not None and (value <= low if low_open else value < low):
            raise ValueError((_("must be > %(low)s") if low_open else _("must be >= %(low)s")) % {"low": low})
        if high is not None and value > high:
            raise ValueError(_("must be <= %(high)s") % {"high": high})
        return value

    return check


def one_of(choices: Iterable[str]):
    choices = tuple(choices)

    def check(value):
        value = text(value)
        if value not in choices:
            raise ValueError(_("must be one of %(choices)s") % {"choices": ", ".join(choices)})
        return value

    return check


def _given(raw, name: str, *, repeatable: bool):
    """What was given for `name` (None: absent or blank). `raw` is a QueryDict (a request) or a
    dict (a command line, stored parameters). A repeatable one is a list of non-blank items."""
    if hasattr(raw, "getlist"):
        items = raw.getlist(name)
    else:
        value = raw.get(name)
        items = list(value) if isinstance(value, list | tuple) and repeatable else [value]
    if repeatable:
        return [s.strip() for item in items if item is not None for s in str(item).split(",") if s.strip()] or None
    # (a non-repeatable value may still be a list: the split's three shares)
    items = [i for i in items if i not in (None, [], ()) and (not isinstance(i, str) or i.strip())]
    return items[0] if items else None


def declared_read(cls: type, raw) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(values, errors) of every declared field of `cls`: the default where nothing is given."""
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for f, opt in declared(cls):
        given = _given(raw, f.name, repeatable=opt.repeatable)
        if given is None:
            values[f.name] = f.default
            continue
        try:
            values[f.name] = opt.check(given)
        except ValueError as exc:
            errors[f.name] = [str(exc)]
    return values, errors


def invalid(errors: dict[str, list[str]], *, code: str) -> ApplicationError:
    """The one error of bad filters or options: `fields` names every bad field."""
    return ApplicationError("; ".join(f"{name}: {m[0]}" for name, m in errors.items()), code=code, fields=errors)


# ---------------------------------------------------------------------------- the filters


def moment(value: str, *, end: bool) -> datetime:
    """An ISO date or date-time as an aware datetime; a date's `end` is the next midnight (the
    whole day included). Naive ones are in the current time zone."""
    # The date first: parse_datetime also reads "2026-11-20" (as its midnight), which would
    # make a date `until` exclude its own day.
    d = parse_date(value)
    if d is not None:
        dt = datetime.combine(d + timedelta(days=1) if end else d, time.min)
    elif (dt := parse_datetime(value)) is None:
        raise ValueError(_("an ISO date (YYYY-MM-DD) or date-time"))
    return dt if timezone.is_aware(dt) else timezone.make_aware(dt, timezone.get_current_timezone())


def _moment_text(value) -> str:
    value = text(value)
    try:
        moment(value, end=False)
    except ValueError:
        raise ValueError(_("an ISO date (YYYY-MM-DD) or date-time")) from None
    return value


def _known(model, field_name: str, message):
    def check(values: list[str]) -> tuple[str, ...]:
        wanted = sorted(set(values))
        found = set(model.objects.filter(**{f"{field_name}__in": wanted}).values_list(field_name, flat=True))
        unknown = [v for v in wanted if v not in found]
        if unknown:
            raise ValueError(message % {"values": ", ".join(unknown)})
        return tuple(wanted)

    return check


def _customer(value) -> int:
    customer_id = number(int, low=1)(value)
    if not Customer.objects.filter(id=customer_id).exists():
        raise ValueError(_("no customer with id %(id)s") % {"id": customer_id})
    return customer_id


def _tags_offered():
    return Tag.objects.order_by("slug").values_list("slug", "name")


@dataclass(frozen=True, kw_only=True)
class ClipFilters:
    camera: tuple[str, ...] = option(
        (),
        help="camera name; repeatable",
        label=_("Cameras"),
        check=_known(Camera, "name", _("unknown camera(s): %(values)s")),
        repeatable=True,
        placeholder="all; names separated by commas",
    )
    customer: int | None = option(None, help="customer id", label=_("Customer id"), check=_customer)
    tag: tuple[str, ...] = option(
        (),
        help="clips whose newest review has this tag; repeatable",
        label=_("Tags"),
        check=_known(Tag, "slug", _("unknown tag(s): %(values)s")),
        repeatable=True,
        widget="checkboxes",
        known=_tags_offered,
    )
    since: str | None = option(
        None, help="ISO date or date-time, included", label=_("Since"), check=_moment_text, placeholder="YYYY-MM-DD"
    )
    until: str | None = option(
        None,
        help="cut-off: ISO date (that whole day included) or date-time (excluded)",
        label=_("Until (cut-off)"),
        check=_moment_text,
        placeholder="YYYY-MM-DD (that day included)",
    )
    model_version: str = option("", help="model version that scored the clip", label=_("Model version"))

    @property
    def since_at(self) -> datetime | None:
        return moment(self.since, end=False) if self.since else None

    @property
    def until_before(self) -> datetime | None:
        return moment(self.until, end=True) if self.until else None

    def filter_params(self) -> list[tuple[str, str]]:
        """The filters as query-string pairs, in the vocabulary's order."""
        return declared_params(self, ClipFilters)


FILTER_NAMES = tuple(f.name for f, _opt in declared(ClipFilters))


def declared_params(obj, cls: type) -> list[tuple[str, str]]:
    """(name, value) pairs of `obj`'s declared fields of `cls` that are set, for a query string."""
    out: list[tuple[str, str]] = []
    for f, opt in declared(cls):
        value = getattr(obj, f.name)
        if opt.repeatable:
            out += [(f.name, str(v)) for v in value]
        elif value not in (None, ""):
            out.append((f.name, str(value)))
    return out


def clip_filters_parse(cls: type[ClipFilters], raw):
    """`cls` (ClipFilters or a subclass with more declared fields) from a request's GET or a dict.
    Raises ApplicationError naming every bad field."""
    values, errors = declared_read(cls, raw)
    dates_check(values, errors)
    if errors:
        raise invalid(errors, code="invalid_filter")
    return cls(**values)


def dates_check(values: dict[str, Any], errors: dict[str, list[str]]) -> None:
    since, until = values.get("since"), values.get("until")
    if since and until and moment(since, end=False) >= moment(until, end=True):
        errors["until"] = ["must be after since"]


def clip_filters_apply(qs: QuerySet, filters: ClipFilters, *, tag_exempt: Q | None = None) -> QuerySet:
    """`qs` (clips `with_verdict()`) narrowed to the filters. The tag filter keeps the clips whose
    newest review has one of the tags, and those matching `tag_exempt` whatever their tags."""
    f = filters
    if f.camera:
        qs = qs.filter(camera__name__in=f.camera)
    if f.customer is not None:
        qs = qs.filter(camera__customer_id=f.customer)
    if f.since:
        qs = qs.filter(recorded_at__gte=f.since_at)
    if f.until:
        qs = qs.filter(recorded_at__lt=f.until_before)
    if f.model_version:
        qs = qs.filter(model_version=f.model_version)
    if f.tag:
        tagged = Q(
            Exists(Review.tags.through.objects.filter(review_id=OuterRef("verdict_review_id"), tag__slug__in=f.tag))
        )
        qs = qs.filter((tagged | tag_exempt) if tag_exempt is not None else tagged)
    return qs

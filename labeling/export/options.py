"""The options of a training-set export, declared once: `ExportOptions`. Each field is a name, a
type, a default and an `Option` (help, label, check, repeatable; reviewapp.review.filters), and
everything else is built from it: the checks (`export_options_clean`), the command's arguments
(export_training_set) and the page's fields (labeling.export.views). The clip filters are the
shared vocabulary of the error-analysis page (ClipFilters), with one difference said below: here
`tag` chooses the negatives only.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from labeling.export import storage
from reviewapp.review.filters import (
    ClipFilters,
    dates_check,
    declared,
    declared_read,
    invalid,
    number,
    one_of,
    option,
    option_like,
)

AUGMENT_CHOICES = ("negative", "positive", "none")
DEFAULT_SPLIT = (0.7, 0.15, 0.15)


def default_out() -> str:
    return str(settings.EXPORT_OUT or settings.EXPORT_ROOT)


def _split(value) -> tuple[float, float, float]:
    """Three shares train,val,test (a "8,1,1" string or three numbers), normalised to sum 1."""
    try:
        items = value.split(",") if isinstance(value, str) else value
        split = tuple(float(s) for s in items)
        if len(split) != 3 or any(s < 0 or not math.isfinite(s) for s in split) or split[0] <= 0:
            raise ValueError
    except (TypeError, ValueError):
        raise ValueError(_("three non-negative numbers train,val,test (train > 0)")) from None
    total = sum(split)
    return tuple(round(s / total, 6) for s in split)


@dataclass(frozen=True, kw_only=True)
class ExportOptions(ClipFilters):
    # The tag filter chooses which negatives to learn from; positives carry no error tags, so
    # they all stay (labeling.export.selection.candidates_query).
    tag: tuple[str, ...] = option_like(
        ClipFilters, "tag", help="only negatives with this tag; repeatable", label=_("Tags (negatives)")
    )
    out: str = option(
        "",
        help="local folder or s3://bucket/prefix (default EXPORT_OUT or EXPORT_ROOT)",
        label=_("Destination"),
        placeholder=default_out,
    )
    ratio: float = option(
        1.0, help="negatives per positive", label=_("Negatives per positive"), check=number(float, low=0, low_open=True)
    )
    easy_share: float = option(
        0.25,
        help="share of the negatives that are plain no-person clips",
        label=_("Share of plain negatives"),
        check=number(float, low=0, high=1),
    )
    camera_cap: int | None = option(
        None, help="max clips per camera and class", label=_("Max clips per camera and class"), check=number(int, low=1)
    )
    tag_cap: int | None = option(
        None, help="max hard-negative clips per tag", label=_("Max hard negatives per tag"), check=number(int, low=1)
    )
    frames_per_clip: int = option(
        3, help="frames exported per clip", label=_("Frames per clip"), check=number(int, low=1, high=50)
    )
    box_min_score: float = option(
        0.3,
        help="person boxes kept on positives: score at least",
        label=_("Min person-box score"),
        check=number(float, low=0, high=1),
    )
    split: tuple[float, float, float] = option(
        DEFAULT_SPLIT, help="train,val,test shares", label=_("Split train,val,test"), check=_split
    )
    seed: int = option(0, help="seed of every random choice", label=_("Seed"), check=number(int))
    augment: str = option(
        "negative",
        help="class to augment in train",
        label=_("Augment (train only)"),
        check=one_of(AUGMENT_CHOICES),
        choices=AUGMENT_CHOICES,
        widget="select",
    )
    augment_max: int = option(
        2,
        help="max augmented copies per image",
        label=_("Max augmented copies per image"),
        check=number(int, low=0, high=10),
    )
    jpeg_quality: int = option(
        90, help="JPEG quality of the images", label=_("JPEG quality"), check=number(int, low=50, high=100)
    )

    def as_params(self) -> dict[str, Any]:
        d = asdict(self)
        d["camera"], d["tag"], d["split"] = list(self.camera), list(self.tag), list(self.split)
        return d

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ExportOptions:
        p = dict(params)
        p["camera"], p["tag"], p["split"] = tuple(p.get("camera", ())), tuple(p.get("tag", ())), tuple(p["split"])
        return cls(**{k: v for k, v in p.items() if k in cls.__dataclass_fields__})


OPTION_NAMES = tuple(f.name for f, _opt in declared(ExportOptions))


def _destination_check(values: dict[str, Any], errors: dict[str, list[str]], local_only_under: Path | None) -> None:
    """`out` parsed (a local folder made absolute); a local one inside `local_only_under` if given."""
    out = values["out"] or default_out()
    values["out"] = out
    try:
        target = storage.parse(out)
    except ValueError as exc:
        errors["out"] = [str(exc)]
        return
    if isinstance(target, storage.LocalTarget):
        values["out"] = str(target.root)
        if local_only_under is not None and not target.root.is_relative_to(Path(local_only_under).resolve()):
            errors["out"] = [f"a local destination must be inside {Path(local_only_under).resolve()}"]


def export_options_clean(raw, *, local_only_under: Path | None = None) -> ExportOptions:
    """Check and convert raw options (from the command line, the form, the schedule, a stored run).

    `local_only_under`: a local destination must be inside this folder (the web page: a staff
    member may choose a bucket, not any folder the web server can write to).
    Raises ApplicationError naming every bad field; nothing is stored."""
    values, errors = declared_read(ExportOptions, raw)
    dates_check(values, errors)
    _destination_check(values, errors, local_only_under)
    if errors:
        raise invalid(errors, code="invalid_export")
    return ExportOptions(**values)


def scheduled_options() -> dict[str, Any]:
    """The weekly export's options: the settings' defaults over the last EXPORT_SCHEDULE_DAYS."""
    options: dict[str, Any] = dict(settings.EXPORT_SCHEDULE_OPTIONS)
    days = settings.EXPORT_SCHEDULE_DAYS
    if days:
        # a day of the filters' date rule: in the current time zone
        options.setdefault("since", timezone.localdate(timezone.now() - timedelta(days=days)).isoformat())
    return options

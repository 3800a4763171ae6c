"""Which reviewed clips a training-set export takes (reviewed clips only; a clip's verdict is its
newest review, reviewapp.review.models.newest_review):
- positives: verdict "person";
- hard negatives: verdict "no_person" on a clip that alerted (a confirmed false positive);
- plain negatives: verdict "no_person" on a clip that did not alert.
The negatives' target is `ratio` x positives, `easy_share` of it reserved for plain negatives and
the rest for hard negatives; a kind that runs short leaves its slots empty (the other kind does
not fill them, so the mix is what was asked). `camera_cap` bounds the clips of each class per
camera, `tag_cap` the hard negatives per tag. Splits are by camera. Everything is decided by `seed`.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q

from labeling.export.options import ExportOptions
from reviewapp.core.errors import ApplicationError
from reviewapp.review.filters import clip_filters_apply
from reviewapp.review.models import Clip, Review

SPLITS = ("train", "val", "test")
POSITIVE, HARD_NEGATIVE, NEGATIVE = "positive", "hard_negative", "negative"


@dataclass(frozen=True)
class Candidate:
    clip_id: str
    camera: str
    customer_id: int
    klass: str
    review_id: int
    tags: tuple[str, ...] = ()
    recorded_at: datetime | None = None
    score: float | None = None


@dataclass
class Selection:
    positives: list[Candidate]
    hard_negatives: list[Candidate]
    negatives: list[Candidate]
    available: dict[str, int] = field(default_factory=dict)

    @property
    def clips(self) -> list[Candidate]:
        return self.positives + self.hard_negatives + self.negatives


def candidates_query(opts: ExportOptions):
    """Reviewed, processed clips matching the filters, with their newest review. The tag filter
    chooses negatives only: a confirmed person passes it whatever its review's tags."""
    qs = Clip.objects.filter(status=Clip.Status.DONE).reviewed().with_verdict()
    return clip_filters_apply(qs, opts, tag_exempt=Q(verdict=Review.Verdict.PERSON))


def export_candidates(opts: ExportOptions) -> list[Candidate]:
    rows = list(
        candidates_query(opts).values_list(
            "id", "camera__name", "camera__customer_id", "alert", "verdict_review_id", "verdict", "recorded_at", "score"
        )
    )
    tags: dict[int, list[str]] = defaultdict(list)
    review_ids = [r[4] for r in rows]
    through = Review.tags.through
    for start in range(0, len(review_ids), 900):  # SQLite's bound-parameter limit
        for review_id, slug in through.objects.filter(review_id__in=review_ids[start : start + 900]).values_list(
            "review_id", "tag__slug"
        ):
            tags[review_id].append(slug)
    out = []
    for clip_id, camera, customer_id, alert, review_id, verdict, recorded_at, score in rows:
        # a confirmed person; a no-person clip that alerted (a false positive) or did not
        klass = POSITIVE if verdict == Review.Verdict.PERSON else HARD_NEGATIVE if alert else NEGATIVE
        out.append(
            Candidate(
                str(clip_id), camera, customer_id, klass, review_id, tuple(sorted(tags[review_id])), recorded_at, score
            )
        )
    return out


def balance(candidates: Iterable[Candidate], opts: ExportOptions) -> Selection:
    """The clips to export, from the candidates and the options. Pure: same input, same output."""
    rng = random.Random(opts.seed)
    pools: dict[str, list[Candidate]] = {POSITIVE: [], HARD_NEGATIVE: [], NEGATIVE: []}
    for c in candidates:
        pools[c.klass].append(c)
    for pool in pools.values():
        pool.sort(key=lambda c: c.clip_id)  # independent of the query's order
        rng.shuffle(pool)

    per_camera: Counter = Counter()
    per_tag: Counter = Counter()

    def pick(pool: list[Candidate], limit: int | None, group: str, *, tag_capped: bool) -> list[Candidate]:
        chosen = []
        for c in pool:
            if limit is not None and len(chosen) >= limit:
                break
            if opts.camera_cap is not None and per_camera[(c.camera, group)] >= opts.camera_cap:
                continue
            if tag_capped and opts.tag_cap is not None and any(per_tag[t] >= opts.tag_cap for t in c.tags):
                continue
            chosen.append(c)
            per_camera[(c.camera, group)] += 1
            if tag_capped:
                per_tag.update(c.tags)
        return chosen

    positives = pick(pools[POSITIVE], None, POSITIVE, tag_capped=False)
    target = round(opts.ratio * len(positives))
    easy_slots = round(opts.easy_share * target)
    hard = pick(pools[HARD_NEGATIVE], target - easy_slots, "negative", tag_capped=True)
    easy = pick(pools[NEGATIVE], easy_slots, "negative", tag_capped=True)
    return Selection(positives, hard, easy, {k: len(v) for k, v in pools.items()})


def export_select(opts: ExportOptions) -> Selection:
    selection = balance(export_candidates(opts), opts)
    if not selection.positives:
        raise ApplicationError(
            "empty selection: no reviewed clip confirmed as a person matches these filters "
            f"(found {selection.available[HARD_NEGATIVE]} hard and {selection.available[NEGATIVE]} plain negatives)",
            code="empty_selection",
        )
    return selection


def assign_splits(cameras: dict[str, int], fractions: tuple[float, float, float], seed: int) -> dict[str, str]:
    """{camera: split}, by camera so that no camera's frames teach and test at once.

    Cameras are taken largest first (ties in a seeded order) and each goes to the split furthest
    below its share of clips. With three cameras or more, val and test get at least one each
    (the smallest ones) when their share is not zero."""
    rng = random.Random(seed)
    names = sorted(cameras)
    rng.shuffle(names)
    order = sorted(names, key=lambda n: -cameras[n])  # stable: the shuffle breaks ties
    total = sum(cameras.values()) or 1
    assigned: dict[str, str] = {}
    load = Counter()
    wanted = [s for s, f in zip(SPLITS[1:], fractions[1:]) if f > 0]
    if len(order) >= 1 + len(wanted):
        for split in wanted:
            name = order.pop()  # the smallest left
            assigned[name] = split
            load[split] += cameras[name]
    for name in order:
        deficits = {s: f * total - load[s] for s, f in zip(SPLITS, fractions)}
        split = max(SPLITS, key=lambda s: (deficits[s], s == "train"))
        assigned[name] = split
        load[split] += cameras[name]
    return assigned

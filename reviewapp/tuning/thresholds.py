"""Per-camera threshold recommendations from reviewed clips, and applying one (by a person).

Evidence: every processed clip with at least one review, its score (after suppression rules,
what the threshold acts on) and the verdict of its latest review, within THRESHOLD_WINDOW_DAYS.
The maths is `inference.thresholds` (no Django); this module gathers the evidence, stores the
recommendations (refreshed by a beat job, never applied by it) and records who applied what.
"""

from __future__ import annotations

import io
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from inference import thresholds as th
from reviewapp.core.errors import ApplicationError
from reviewapp.review.models import Camera, Clip, Review
from reviewapp.tuning.models import ThresholdChange, ThresholdRecommendation

log = logging.getLogger(__name__)

CURVE_POINTS = 200  # rows of the curve kept in the stored evidence (enough to draw it)


# ------------------------------------------------------------------------------------- reads


def reviewed_scores(*, camera: Camera | None, since: datetime) -> tuple[list[float], list[bool]]:
    """(scores, is-a-person) of the reviewed clips of one camera (None: all cameras) since `since`."""
    qs = Clip.objects.filter(status=Clip.Status.DONE, score__isnull=False, recorded_at__gte=since)
    if camera is not None:
        qs = qs.filter(camera=camera)
    rows = qs.reviewed().with_verdict().values_list("score", "verdict")
    scores, labels = [], []
    for score, verdict in rows:
        scores.append(float(score))
        labels.append(verdict == Review.Verdict.PERSON)
    return scores, labels


def alert_rates(*, camera: Camera, thresholds: dict[str, float], since: datetime, now: datetime) -> dict:
    """Alerts per day each threshold would have given on ALL of the camera's processed clips in the
    window (not only the reviewed ones), and the clips per day they come from."""
    clips = Clip.objects.filter(camera=camera, status=Clip.Status.DONE, score__isnull=False, recorded_at__gte=since)
    first = clips.aggregate(first=Min("recorded_at"))["first"]
    if first is None:
        return {"days": 0.0, "clips_per_day": 0.0, **{f"alerts_per_day_{k}": None for k in thresholds}}
    days = max((now - first).total_seconds() / 86400, 1 / 24)  # at least an hour: no wild extrapolation
    scores = list(clips.values_list("score", flat=True))
    out = {"days": round(days, 3), "clips_per_day": round(len(scores) / days, 2)}
    for name, t in thresholds.items():
        out[f"alerts_per_day_{name}"] = round(sum(s >= t for s in scores) / days, 2)
    return out


def _thin(curve: list[dict], n: int = CURVE_POINTS) -> list[dict]:
    if len(curve) <= n:
        return curve
    step = (len(curve) - 1) / (n - 1)
    return [curve[round(i * step)] for i in range(n)]


def _now_and_since(now: datetime | None) -> tuple[datetime, datetime]:
    now = now or timezone.now()
    return now, now - timedelta(days=settings.THRESHOLD_WINDOW_DAYS)


def _params() -> dict:
    return {
        "target_recall": settings.THRESHOLD_TARGET_RECALL,
        "min_positives": settings.THRESHOLD_MIN_POSITIVES,
        "min_reviews": settings.THRESHOLD_MIN_REVIEWS,
    }


# ------------------------------------------------------------------------------------ writes


def recommendation_refresh_global(*, now: datetime | None = None) -> ThresholdRecommendation:
    now, since = _now_and_since(now)
    scores, labels = reviewed_scores(camera=None, since=since)
    params = _params()
    rec = th.recommend_threshold(scores, labels, **params)
    evidence = {
        "scope": "global",
        "window_days": settings.THRESHOLD_WINDOW_DAYS,
        "reason": th.insufficient_evidence(
            scores, labels, min_positives=params["min_positives"], min_reviews=params["min_reviews"]
        ),
        "curve": _thin(th.pr_curve(scores, labels)),
        "at_threshold": rec.at_threshold.as_dict() if rec else None,
    }
    obj, _ = ThresholdRecommendation.objects.update_or_create(
        is_global=True,
        camera=None,
        defaults={
            "threshold": rec.threshold if rec else None,
            "target_recall": params["target_recall"],
            "reachable": rec.reachable if rec else True,
            "reviews": len(labels),
            "positives": sum(labels),
            "negatives": len(labels) - sum(labels),
            "evidence": evidence,
            "computed_at": now,
            "fallback_reason": "",
        },
    )
    return obj


def recommendation_refresh(
    *, camera: Camera, global_rec: ThresholdRecommendation | None = None, now: datetime | None = None
) -> ThresholdRecommendation:
    """Compute and store the camera's recommendation. Too few reviews of its own: the global
    threshold, with the reason in `fallback_reason`. The trade-off is always stated on the
    camera's own reviewed clips, and the alert rates on all its clips."""
    now, since = _now_and_since(now)
    scores, labels = reviewed_scores(camera=camera, since=since)
    params = _params()
    reason = th.insufficient_evidence(
        scores, labels, min_positives=params["min_positives"], min_reviews=params["min_reviews"]
    )
    rec = None if reason else th.recommend_threshold(scores, labels, **params)
    if rec is not None:
        threshold, reachable, scope, fallback = rec.threshold, rec.reachable, "camera", ""
    else:
        global_rec = global_rec or recommendation_refresh_global(now=now)
        threshold, reachable, scope = global_rec.threshold, global_rec.reachable, "global"
        fallback = f"This camera: {reason}. Using the global recommendation ({global_rec.reviews} reviewed clips of all cameras)."
        if global_rec.threshold is None:
            fallback += f" There is none either: {global_rec.evidence.get('reason')}."
    evidence = {
        "scope": scope,
        "window_days": settings.THRESHOLD_WINDOW_DAYS,
        "current_threshold": camera.threshold,
        "curve": _thin(th.pr_curve(scores, labels)),
        "tradeoff": th.tradeoff(scores, labels, current=camera.threshold, proposed=threshold)
        if threshold is not None
        else None,
        "rates": alert_rates(
            camera=camera,
            since=since,
            now=now,
            thresholds={"current": camera.threshold, **({"proposed": threshold} if threshold is not None else {})},
        ),
    }
    obj, _ = ThresholdRecommendation.objects.update_or_create(
        camera=camera,
        defaults={
            "threshold": threshold,
            "target_recall": params["target_recall"],
            "reachable": reachable,
            "reviews": len(labels),
            "positives": sum(labels),
            "negatives": len(labels) - sum(labels),
            "evidence": evidence,
            "computed_at": now,
            "fallback_reason": fallback,
            "is_global": False,
        },
    )
    return obj


def recommendations_refresh_all(*, now: datetime | None = None) -> int:
    """What the beat job runs: the global recommendation, then every camera's. Applies nothing."""
    global_rec = recommendation_refresh_global(now=now)
    count = 0
    for camera in Camera.objects.order_by("id").iterator():
        recommendation_refresh(camera=camera, global_rec=global_rec, now=now)
        count += 1
    log.info("threshold recommendations refreshed for %d camera(s)", count)
    return count


def threshold_apply(
    *, camera: Camera, recommendation_id: int, expected_threshold: float, user, note: str = ""
) -> ThresholdChange:
    """Set the camera's threshold to its stored recommendation, recording who, when and on
    which evidence. `expected_threshold` is the threshold the person saw: if someone changed it
    meanwhile, nothing is applied (409) so that no one applies a trade-off they did not see."""
    with transaction.atomic():
        locked = Camera.objects.select_for_update().get(id=camera.id)
        rec = ThresholdRecommendation.objects.filter(id=recommendation_id, camera=locked).first()
        if rec is None:
            raise ApplicationError(
                "this recommendation is not this camera's current one; reload the page",
                code="stale_recommendation",
                status_code=409,
            )
        if rec.threshold is None:
            raise ApplicationError("there is no recommended threshold to apply", code="no_recommendation")
        if abs(locked.threshold - expected_threshold) > 1e-9:
            raise ApplicationError(
                f"the threshold was changed meanwhile (now {locked.threshold:g}); reload the page",
                code="conflict",
                status_code=409,
            )
        change = ThresholdChange.objects.create(
            camera=locked,
            old_threshold=locked.threshold,
            new_threshold=rec.threshold,
            changed_by=user,
            note=note[:2000],
            evidence={
                "recommendation_id": rec.id,
                "computed_at": rec.computed_at.isoformat(),
                "scope": rec.evidence.get("scope"),
                "fallback_reason": rec.fallback_reason,
                "target_recall": rec.target_recall,
                "reachable": rec.reachable,
                "reviews": rec.reviews,
                "positives": rec.positives,
                "negatives": rec.negatives,
                "window_days": rec.evidence.get("window_days"),
                "tradeoff": rec.evidence.get("tradeoff"),
                "rates": rec.evidence.get("rates"),
            },
        )
        Camera.objects.filter(id=locked.id).update(threshold=rec.threshold)
    log.info("camera %s threshold %g -> %g by %s", camera.name, change.old_threshold, change.new_threshold, user)
    return change


# ---------------------------------------------------------------------------------- the plot


def curve_svg(*, curve: list[dict], current: float | None, proposed: float | None, title: str) -> str:
    """Precision and recall against the threshold, as an SVG drawn server-side by matplotlib.

    The object-oriented API (a Figure, no pyplot) keeps no global state between requests and
    needs no display; SVG output goes through matplotlib's own vector backend."""
    import matplotlib

    matplotlib.use("Agg")  # never a GUI backend in a server process
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.6))
    ax = fig.add_subplot()
    xs = [r["threshold"] for r in curve]
    # Rows are at each distinct score; between two scores the counts are those of the higher one.
    ax.step(
        xs,
        [r["recall"] if r["recall"] is not None else float("nan") for r in curve],
        where="pre",
        label="recall (people kept)",
        color="#d9534f",
    )
    ax.step(
        xs,
        [r["precision"] if r["precision"] is not None else float("nan") for r in curve],
        where="pre",
        label="precision (alerts that are people)",
        color="#337ab7",
    )
    if current is not None:
        ax.axvline(current, color="#555", linestyle="--", label=f"current {current:.3f}")
    if proposed is not None:
        ax.axvline(proposed, color="#5cb85c", linestyle="-", label=f"recommended {proposed:.3f}")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("threshold (a clip alerts when its score ≥ threshold)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]  # drop the XML prolog and doctype: it is inlined in HTML

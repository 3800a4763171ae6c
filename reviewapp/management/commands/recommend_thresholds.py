from django.core.management.base import BaseCommand

from reviewapp.tuning.models import ThresholdRecommendation
from reviewapp.tuning.thresholds import recommendations_refresh_all


def _fmt(value, spec=".3f") -> str:
    return "-" if value is None else format(value, spec)


class Command(BaseCommand):
    help = (
        "Recompute the threshold recommendations from the reviewed clips (what the beat job does) "
        "and print them. Applies nothing: a person does, on /thresholds/<camera>/."
    )

    def handle(self, *args, **options):
        recommendations_refresh_all()
        glob = ThresholdRecommendation.objects.get(is_global=True)
        self.stdout.write(
            f"all cameras: recommended {_fmt(glob.threshold)} from {glob.reviews} reviewed clips "
            f"({glob.positives} people){'' if glob.threshold is not None else ' - ' + str(glob.evidence.get('reason'))}"
        )
        self.stdout.write(
            f"{'camera':<24} {'current':>7} {'recommended':>11} {'from':<7} {'reviews':>7} "
            f"{'FA removed':>10} {'people lost':>11} {'alerts/day now -> then':>24}"
        )
        recs = ThresholdRecommendation.objects.filter(is_global=False).select_related("camera").order_by("camera__name")
        for rec in recs:
            t = rec.evidence.get("tradeoff") or {}
            rates = rec.evidence.get("rates") or {}
            per_day = f"{_fmt(rates.get('alerts_per_day_current'), '.1f')} -> {_fmt(rates.get('alerts_per_day_proposed'), '.1f')}"
            self.stdout.write(
                f"{rec.camera.name:<24} {rec.camera.threshold:>7.3f} {_fmt(rec.threshold):>11} "
                f"{'global' if rec.fallback_reason else 'camera':<7} {rec.reviews:>7} "
                f"{_fmt(t.get('false_alerts_removed'), 'd'):>10} {_fmt(t.get('people_lost'), 'd'):>11} {per_day:>24}"
            )
            if rec.fallback_reason:
                self.stdout.write(f"  {rec.fallback_reason}")

"""A clip's verdict is its newest review, in one definition (reviewapp.review.models.newest_review)
that every reader asks: error analysis, thresholds, the verifier's training set, the export, the
DynamoDB item, the API's latest review, the sync's change time and the webhook's re-opening."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labeling.export.options import export_options_clean
from labeling.export.selection import HARD_NEGATIVE, export_candidates
from labeling.sync import senders
from labeling.sync.discovery import clip_changed_at
from reviewapp.monitoring import analysis
from reviewapp.review import selectors
from reviewapp.review.models import Clip, Review
from reviewapp.tuning import thresholds, verifier_training
from tests.factories import ClipFactory, ReviewItemFactory


@pytest.fixture
def tied(world):
    """An alerted clip reviewed twice in the same instant: "person", then "no_person" (saved
    last, so the higher id). And a clip whose later-saved review is the older one."""
    clip = ClipFactory(camera=world.cam_a, alert=True, score=0.8, finished_at=timezone.now())
    item = ReviewItemFactory(clip=clip)
    first = Review.objects.create(item=item, clip=clip, verdict="person", reviewer=world.reviewer)
    second = Review.objects.create(item=item, clip=clip, verdict="no_person", reviewer=world.reviewer2)
    instant = timezone.now() - timedelta(minutes=5)
    Review.objects.filter(id__in=[first.id, second.id]).update(created_at=instant)

    other = ClipFactory(camera=world.cam_b, alert=True, score=0.8, finished_at=timezone.now())
    other_item = ReviewItemFactory(clip=other)
    newer = Review.objects.create(item=other_item, clip=other, verdict="person", reviewer=world.reviewer)
    backdated = Review.objects.create(item=other_item, clip=other, verdict="no_person", reviewer=world.reviewer)
    Review.objects.filter(id=backdated.id).update(created_at=instant - timedelta(hours=1))
    return {"clip": clip, "verdict": second, "other": other, "other_verdict": newer, "instant": instant}


def test_the_queryset_and_the_python_side_agree(tied):
    clip, other = tied["clip"], tied["other"]
    rows = dict(Clip.objects.with_verdict().values_list("id", "verdict_review_id"))
    assert rows == {clip.id: tied["verdict"].id, other.id: tied["other_verdict"].id}
    newest = Review.objects.newest_per_clip([clip.id, other.id])
    assert {k: r.id for k, r in newest.items()} == rows
    assert selectors.latest_review(clip).id == tied["verdict"].id


def test_every_reader_takes_the_newest_review(tied, world):
    clip, other = tied["clip"], tied["other"]
    total = analysis.summary(analysis.Slice())
    assert (total.reviewed, total.false_alerts) == (2, 1)  # clip: no_person; other: person

    _scores, labels = thresholds.reviewed_scores(camera=world.cam_a, since=timezone.now() - timedelta(days=30))
    assert labels == [False]
    verdicts = {c.id: c.verdict for c in verifier_training.clips_reviewed()}
    assert verdicts == {clip.id: "no_person", other.id: "person"}

    klass = {c.clip_id: (c.klass, c.review_id) for c in export_candidates(export_options_clean({"out": "/tmp/x"}))}
    assert klass[str(clip.id)] == (HARD_NEGATIVE, tied["verdict"].id)

    item, _ = senders.clip_items([clip.id])[clip.id]
    assert (item["verdict"], item["reviewer"]) == ("no_person", world.reviewer2.username)
    changed = Clip.objects.annotate(changed_at=clip_changed_at()).get(id=other.id).changed_at
    assert changed == max(other.finished_at, tied["other_verdict"].created_at)

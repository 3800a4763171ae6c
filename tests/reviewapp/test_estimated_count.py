"""reviewapp.core.metrics.estimated_count: exact on small tables, the planner's estimate (no
COUNT, no scan) above the threshold on PostgreSQL — what the sync gauges use for their done
rows, ~10 M at 10 M clips (#13)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reviewapp.core.metrics import estimated_count
from reviewapp.review.models import Clip
from tests.factories import ClipFactory

pytestmark = pytest.mark.django_db


def test_a_small_table_is_counted_exactly(world):
    for _ in range(3):
        ClipFactory(camera=world.cam_a)
    ClipFactory(camera=world.cam_b)
    assert estimated_count(Clip.objects.filter(camera=world.cam_a)) == 3
    assert estimated_count(Clip.objects.all()) == 4


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner's estimate is PostgreSQL's")
def test_above_the_threshold_it_asks_the_planner_and_counts_nothing(world):
    for _ in range(3):
        ClipFactory(camera=world.cam_a)
    with CaptureQueriesContext(connection) as ctx:
        n = estimated_count(Clip.objects.filter(camera=world.cam_a), exact_below=0)
    assert n >= 0
    assert len(ctx.captured_queries) == 1 and ctx.captured_queries[0]["sql"].startswith("EXPLAIN")

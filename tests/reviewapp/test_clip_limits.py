"""A clip whose worker's main process died is sent again within 2 minutes by default (#12):
the clip task has its own time limits, and the stuck-clip sweep's age follows them (not the
global limit of the long tasks: exports, drift checks, whose messages the transport-wide
visibility timeout keeps safe). The fault itself: test_faults.py, the whole worker killed."""

from django.conf import settings

from reviewapp.review.tasks import process_clip


def test_the_clip_task_has_its_own_limits_below_the_global_ones():
    assert process_clip.soft_time_limit == settings.CLIP_TASK_SOFT_TIME_LIMIT
    assert process_clip.time_limit == settings.CLIP_TASK_TIME_LIMIT
    assert settings.CLIP_TASK_SOFT_TIME_LIMIT < settings.CLIP_TASK_TIME_LIMIT <= settings.CELERY_TASK_TIME_LIMIT


def test_a_stuck_clip_is_sent_again_within_two_minutes_by_default_and_never_while_it_runs():
    # Never while a try may still run (past the hard limit it is dead) ...
    assert settings.STUCK_CLIP_SECONDS > settings.CLIP_TASK_TIME_LIMIT
    # ... and at the latest one sweep after that, with time left to process it (the slowest
    # measured 1-minute clip: 3.7 s quiet, ~11 s loaded; docs/figures.md).
    assert settings.STUCK_CLIP_SECONDS + settings.STUCK_CLIP_SWEEP_SECONDS + 15 <= 120


def test_the_broker_hands_back_no_long_task_while_it_runs():
    # Transport-wide: an export or a drift check (acks_late, the global limit) must not be
    # redelivered to another worker while it runs.
    assert settings.BROKER_VISIBILITY_TIMEOUT > settings.CELERY_TASK_TIME_LIMIT

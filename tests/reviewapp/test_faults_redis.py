"""The broker restarted empty (#12): Redis without persistence (`--save "" --appendonly no`)
killed -9 while clips wait in its queue, and started again with nothing. The queued messages
are gone; the stuck-clip sweep (beat, STUCK_CLIP_SECONDS / STUCK_CLIP_SWEEP_SECONDS small
here) sends the clips again. Every clip done once, every alert delivered once; prints the
recovery time (Redis back -> the last clip done)."""

import json
import time
from collections import Counter

import pytest
import redis
from django.utils import timezone

from reviewapp.review import ingest
from reviewapp.review.demo import photo, write_clip
from reviewapp.review.models import AlertOutbox, Clip
from tests.factories import CameraFactory, CustomerFactory
from tests.reviewapp.test_alerts import Inbox
from tests.reviewapp.test_faults import wait_for

pytestmark = [pytest.mark.faults, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CLIPS = 4


def alerts_per_clip(inbox: Inbox, *, quiet: float) -> dict[str, int]:
    """How many alerts the inbox got per clip, read until nothing more came for `quiet` s."""
    got, last = Counter(), time.monotonic()
    while time.monotonic() - last < quiet:
        batch = inbox.receive(wait=1)
        got.update(json.loads(e["Message"])["clip_id"] for e in batch)
        if batch:
            last = time.monotonic()
    return dict(got)


@pytest.fixture
def empty_redis(redis_server):
    """Our own Redis (tests/workers.py), as this test's broker; `restart()` kills it -9 and
    starts it empty on the same port."""

    def restart():
        redis_server.stop()
        redis_server.start()

    yield redis_server.url, redis.Redis(port=redis_server.port), restart


def test_clips_queued_in_a_redis_restarted_empty_are_done_once_by_the_sweep(
    empty_redis, start_worker, aws_endpoint, aws_env, tmp_path
):
    url, client, restart = empty_redis
    inbox = Inbox(aws_endpoint)
    camera = CameraFactory(customer=CustomerFactory(name="Acme"), name="acme-door", threshold=0.05)
    clips = []
    for n in range(CLIPS):
        path = write_clip(
            tmp_path / f"astronaut-{n}.mp4", photo("astronaut"), seconds=2, fps=5 + n
        )  # other bytes: not one clip
        clips.append(ingest.clip_ingest(camera=camera, path=str(path), recorded_at=timezone.now())[0])
    assert client.llen("inference") == CLIPS  # no worker yet: every message waits in Redis

    restart()
    back = time.monotonic()
    assert client.llen("inference") == 0  # the queue is gone with the server
    worker = start_worker(
        env={
            "CELERY_BROKER_URL": url,
            "ALERT_SNS_TOPIC_ARN": inbox.topic,
            "AWS_SNS_ENDPOINT_URL": aws_endpoint,
            "STUCK_CLIP_SECONDS": "5",
            "STUCK_QUEUED_CLIP_SECONDS": "5",
            "STUCK_CLIP_SWEEP_SECONDS": "3",
        },
        args=("-B",),
    )
    ids = [c.id for c in clips]
    done = lambda: Clip.objects.filter(id__in=ids, status=Clip.Status.DONE).count() == CLIPS  # noqa: E731
    wait_for(done, timeout=150, worker=worker, every=0.5)
    recovery = time.monotonic() - back
    sent = lambda: AlertOutbox.objects.filter(clip__in=ids, status=AlertOutbox.Status.SENT).count() == CLIPS  # noqa: E731
    wait_for(sent, timeout=120, worker=worker)
    got = alerts_per_clip(inbox, quiet=4)
    print(f"Redis restarted empty with {CLIPS} clips queued -> all done by the sweep in {recovery:.1f} s")
    assert [c.attempts for c in Clip.objects.filter(id__in=ids)] == [1] * CLIPS  # each done once
    assert all(c.alert for c in Clip.objects.filter(id__in=ids))
    assert got == {str(clip_id): 1 for clip_id in ids}  # every alert delivered, once

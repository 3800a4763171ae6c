"""The sync of clips, review items and reviews to Label Studio and DynamoDB.

Driven by what changed, never called from reviewapp: each beat tick discovers what changed
(labeling.sync.discovery), claims due rows (labeling.sync.state) and sends them
(labeling.sync.senders), destination by destination, until nothing is due or the time is spent.
A reviewer's decision only writes its Review row; nothing here runs in that request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings

from labeling.models import SyncState
from labeling.sync import dynamo
from labeling.sync import label_studio as ls
from labeling.sync.discovery import discover
from labeling.sync.senders import (
    labelling_config,
    send_dynamodb,
    send_ls_annotations,
    send_ls_tasks,
)
from labeling.sync.state import D, claim

log = logging.getLogger(__name__)


# Rows claimed per round. Annotations go one request each (~0.3 s on Label Studio's dev server):
# a smaller round keeps a run well inside the task's time limit.
CLAIM_LIMIT = {D.LS_ANNOTATION: 50}


def destinations() -> list[str]:
    out = []
    if dynamo.enabled():
        out.append(D.DYNAMODB)
    if ls.enabled():
        out += [D.LS_TASK, D.LS_ANNOTATION]
    return out


SENDERS: dict[str, Callable[[list[SyncState], str], None]] = {
    D.DYNAMODB: send_dynamodb,
    D.LS_TASK: send_ls_tasks,
    D.LS_ANNOTATION: send_ls_annotations,
}


def sync_destination(destination: str, *, limit: int | None = None) -> int:
    """Discover and send one batch for one destination. Returns how many rows were sent."""
    discover(destination)
    token, rows = claim(destination, limit=limit or min(settings.SYNC_BATCH, CLAIM_LIMIT.get(destination, 10**9)))
    if rows:
        SENDERS[destination](rows, token)
    return len(rows)


def sync_all(*, budget_seconds: float = 60.0) -> dict[str, int]:
    """What a beat tick runs: every enabled destination, batch after batch, until nothing is due
    or the time budget is spent. Tasks go before annotations: an annotation needs its task.
    The Label Studio project first gets the current tags (a request only when they changed)."""
    sent = {}
    if D.LS_TASK in destinations():
        try:
            if ls.config_ensure(project=ls.project_id(), config=labelling_config()):
                log.info("Label Studio labelling config updated to the current tags")
        except ls.LabelStudioError as exc:  # the labels still flow; only new tags are missing there
            log.warning("Label Studio labelling config not updated: %s", exc)
    deadline = time.monotonic() + budget_seconds
    for destination in destinations():
        sent[destination] = 0
        while time.monotonic() < deadline:
            n = sync_destination(destination)
            sent[destination] += n
            if n == 0:
                break
    return sent

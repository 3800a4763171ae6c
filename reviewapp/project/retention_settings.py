"""Retention (docs/operations.md#retention, docs/architecture.md "Retention"), star-imported by
settings.py: how long a clip's per-frame detail and an unremarkable clip itself are kept, and
the beat tasks that delete them. Every variable is in docs/operations.md's table."""

import environ

_env = environ.Env()

# A clip's per-frame detail (reviewapp/review/detail.py) of clips nobody reviewed or reported is
# deleted this many days after processing (0: kept forever); checked every CLIP_DETAIL_EXPIRE_SECONDS.
CLIP_DETAIL_RETENTION_DAYS = _env.int("CLIP_DETAIL_RETENTION_DAYS", default=30)
CLIP_DETAIL_EXPIRE_SECONDS = _env.int("CLIP_DETAIL_EXPIRE_SECONDS", default=3600)

# A clip recorded more than this many days ago (UTC days: from the midnight it falls before) that
# nobody reviewed or reported and that did not alert is deleted, its row and the objects Vigia
# wrote for it (reviewapp/review/prune.py). 0: clips are kept forever. The error analysis keeps
# counting it (the rollups are not touched).
CLIP_RETENTION_DAYS = _env.int("CLIP_RETENTION_DAYS", default=90)
# The beat task runs every CLIP_PRUNE_SECONDS for at most CLIP_PRUNE_BUDGET_SECONDS (the rest is
# left to the next run), in batches of CLIP_PRUNE_BATCH clips (one short transaction each).
# Every 2 minutes: a whole UTC day becomes prunable at each midnight, and at the seed's 5,000
# cameras (~6.5 M prunable clips a day) a 10 s run every 120 s at 1,125 clips/s (measured at
# 10 M clips, docs/figures.md) deletes ~8 M a day; hourly would delete ~270,000.
CLIP_PRUNE_SECONDS = _env.int("CLIP_PRUNE_SECONDS", default=120)
CLIP_PRUNE_BUDGET_SECONDS = _env.float("CLIP_PRUNE_BUDGET_SECONDS", default=10.0)
CLIP_PRUNE_BATCH = _env.int("CLIP_PRUNE_BATCH", default=500)

if CLIP_RETENTION_DAYS < 0 or CLIP_DETAIL_RETENTION_DAYS < 0:
    raise ValueError("CLIP_RETENTION_DAYS and CLIP_DETAIL_RETENTION_DAYS: 0 (keep forever) or more days")
if CLIP_PRUNE_BATCH < 1 or CLIP_PRUNE_BUDGET_SECONDS <= 0:
    raise ValueError("CLIP_PRUNE_BATCH must be at least 1 and CLIP_PRUNE_BUDGET_SECONDS above 0")

RETENTION_BEAT_SCHEDULE = {
    "expire-clip-details": {
        "task": "reviewapp.tasks.expire_clip_details",
        "schedule": float(CLIP_DETAIL_EXPIRE_SECONDS),
        "options": {"expires": CLIP_DETAIL_EXPIRE_SECONDS},
    },
    "prune-clips": {
        "task": "reviewapp.tasks.prune_clips",
        "schedule": float(CLIP_PRUNE_SECONDS),
        "options": {"expires": CLIP_PRUNE_SECONDS},
    },
}

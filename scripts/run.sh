#!/usr/bin/env bash
# `make run`: the embedded default (SQLite, a filesystem broker, clips in ./var/media), demo
# data, a real Celery worker and beat, and the web app. Ctrl-C stops all of them.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG="${DEBUG:-1}"
PORT="${PORT:-8000}"
BIN=.venv/bin
mkdir -p var
# Metrics: the web app and the worker's processes share one folder (one machine), so
# http://127.0.0.1:$PORT/metrics shows the worker's counters too; readable from this machine.
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$PWD/var/metrics}"
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
export METRICS_ALLOWED_NETWORKS="${METRICS_ALLOWED_NETWORKS:-127.0.0.1/32,::1/128}"

$BIN/python manage.py migrate --noinput -v0
$BIN/python manage.py analysis_rollups_rebuild --if-empty
$BIN/python manage.py demo_setup

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
$BIN/celery -A reviewapp.project worker -Q inference,default,exports --concurrency 1 --loglevel INFO >var/worker.log 2>&1 &
pids+=($!)
$BIN/celery -A reviewapp.project beat --loglevel INFO --schedule var/celerybeat-schedule >var/beat.log 2>&1 &
pids+=($!)
# New clips by S3 event (docs/operations.md#clips-from-the-bucket): only when a queue is set.
if [ -n "${CLIP_EVENTS_QUEUE_URL:-}" ]; then
  $BIN/python manage.py consume_clip_events >var/clip-events.log 2>&1 &
  pids+=($!)
  echo "  clip events: consuming $CLIP_EVENTS_QUEUE_URL (log: var/clip-events.log)"
fi

cat <<TXT

  Vigia is running at http://127.0.0.1:${PORT}/
    reviewer:       reviewer / vigia-demo   (review queue: /review/)
    customer user:  customer / vigia-demo   (alerts: /alerts/)
    ingest service: ingest / vigia-demo     (API docs: /api/v1/docs/)
    monitoring:     /analysis/ and /drift/ (reviewer), /metrics (from this machine)
  Worker and beat logs: var/worker.log, var/beat.log. Ctrl-C stops everything.

TXT
$BIN/python manage.py runserver "127.0.0.1:${PORT}" --noreload

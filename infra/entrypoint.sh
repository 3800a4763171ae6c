#!/usr/bin/env bash
# The container's one entrypoint: the first argument picks the role.
set -euo pipefail
role="${1:-web}"
shift || true
# Prometheus multiprocess mode: every process of this container (gunicorn workers, Celery
# prefork children) writes its counters to this folder and one exposition sums them. Files
# left by a previous run would be counted again, so the folder starts empty.
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-/tmp/vigia-metrics}"
rm -rf "$PROMETHEUS_MULTIPROC_DIR" && mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
# Refuse to start on a set-up that is not fit for production: the development SECRET_KEY,
# infra/example.env's placeholders, a short METRICS_TOKEN, Django's own deploy warnings
# (reviewapp/core/checks.py; SILENCED_SYSTEM_CHECKS in docs/operations.md).
deploy_check() {
  python manage.py check --deploy --fail-level WARNING
}
case "$role" in
  web|migrate|worker-inference|worker|worker-exports|clip-events|beat) deploy_check ;;
esac
case "$role" in
  web)
    exec gunicorn reviewapp.project.wsgi:application --bind "0.0.0.0:${PORT:-8000}" \
      --workers "${WEB_WORKERS:-3}" --timeout 120 --access-logfile - "$@" ;;
  migrate)
    exec python manage.py migrate --noinput "$@" ;;
  worker-inference)
    # One clip at a time per process; the detector is loaded once per process at start.
    exec celery -A reviewapp.project worker -Q inference --concurrency "${INFERENCE_CONCURRENCY:-1}" \
      --prefetch-multiplier 1 --loglevel "${LOG_LEVEL:-INFO}" "$@" ;;
  worker)
    exec celery -A reviewapp.project worker -Q default --concurrency "${WORKER_CONCURRENCY:-2}" \
      --loglevel "${LOG_LEVEL:-INFO}" "$@" ;;
  worker-exports)
    # Training-set exports take hours: one at a time, apart from the default queue's short jobs.
    exec celery -A reviewapp.project worker -Q exports --concurrency "${EXPORT_CONCURRENCY:-1}" \
      --prefetch-multiplier 1 --loglevel "${LOG_LEVEL:-INFO}" "$@" ;;
  clip-events)
    # The clip bucket's S3 events from SQS (CLIP_EVENTS_QUEUE_URL); idle while that is unset.
    exec python manage.py consume_clip_events --idle-if-unset "$@" ;;
  beat)
    exec celery -A reviewapp.project beat --loglevel "${LOG_LEVEL:-INFO}" --schedule /tmp/celerybeat-schedule "$@" ;;
  *)
    echo "unknown role '$role': use web, migrate, worker-inference, worker, worker-exports, clip-events or beat" >&2
    exit 2 ;;
esac

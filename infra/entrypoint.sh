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
# On ECS the load balancer's health checks name the task by its private IP (Host: 10.0.1.23:8000):
# that host is allowed too, or Django refuses them (400) and the task never becomes healthy.
# ECS_CONTAINER_METADATA_URI_V4 is set by ECS only (the task's metadata endpoint).
if [ -n "${ECS_CONTAINER_METADATA_URI_V4:-}" ]; then
  task_ip="$(python -c 'import json, os, urllib.request
task = json.load(urllib.request.urlopen(os.environ["ECS_CONTAINER_METADATA_URI_V4"], timeout=5))
print(task["Networks"][0]["IPv4Addresses"][0])')"
  export ALLOWED_HOSTS="${ALLOWED_HOSTS:+$ALLOWED_HOSTS,}$task_ip"
fi
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
    # The error analysis's rollups are built once, the first time there are clips and none.
    python manage.py migrate --noinput "$@"
    exec python manage.py analysis_rollups_rebuild --if-empty ;;
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
  train)
    # One detector training run, laid out as a SageMaker training job (inference/training/role.py):
    # reads /opt/ml/input/data/<channel>, writes /opt/ml/model. Needs torch (requirements/torch.txt).
    exec python -m inference.training.role "$@" ;;
  beat)
    exec celery -A reviewapp.project beat --loglevel "${LOG_LEVEL:-INFO}" --schedule /tmp/celerybeat-schedule "$@" ;;
  *)
    echo "unknown role '$role': use web, migrate, worker-inference, worker, worker-exports, clip-events, train or beat" >&2
    exit 2 ;;
esac

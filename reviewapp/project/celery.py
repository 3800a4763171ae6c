"""The Celery app (`celery -A reviewapp.project worker`), configured from the Django settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "reviewapp.project.settings")

app = Celery("reviewapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each feature keeps its tasks in its own `tasks` module.
TASK_PACKAGES = [
    "reviewapp.review",
    "reviewapp.tuning",
    "reviewapp.monitoring",
    "labeling.sync",
    "labeling.export",
    "labeling.training",
]
app.autodiscover_tasks(TASK_PACKAGES)


@app.on_after_configure.connect
def _make_broker_folders(sender, **kwargs):
    # kombu's filesystem transport (the embedded default) expects its folders to exist.
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            os.makedirs(options[key], exist_ok=True)

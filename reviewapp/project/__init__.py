"""The Django project: settings, URLs, the Celery app and the WSGI entry point.

Importing the Celery app here binds every `shared_task` to it as soon as Django starts."""

from reviewapp.project.celery import app as celery_app

__all__ = ("celery_app",)

"""Structured logs: every line of a clip's journey carries its clip id, camera and Celery task id.

The context lives in a contextvar (one per thread / task, never shared between requests), set by
`log_context(...)` blocks in the services and the tasks and by the Celery task signals. A filter
on the console handler copies it onto every record, whoever logs it (our code, Celery, Django),
so the JSON formatter writes it as fields and the plain one appends it readably.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

FIELDS = ("clip_id", "camera", "task_id", "task")
# The default is never mutated: bind() always sets a new dict.
_context: ContextVar[dict[str, str]] = ContextVar("vigia_log_context", default={})  # noqa: B039


def bind(**fields: Any) -> Token:
    """Add fields to the current context; give the token to `unbind` to restore it."""
    clean = {k: str(v) for k, v in fields.items() if v is not None and v != ""}
    return _context.set({**_context.get(), **clean})


def unbind(token: Token) -> None:
    _context.reset(token)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)


def current() -> dict[str, str]:
    return dict(_context.get())


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = _context.get()
        for key, value in context.items():
            if not hasattr(record, key):  # an explicit `extra=` wins
                setattr(record, key, value)
        record.context = (" [" + " ".join(f"{k}={v}" for k, v in context.items()) + "]") if context else ""
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: time, level, logger, message, the context fields, any extras."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("fmt", "%(asctime)s %(levelname)s %(name)s %(message)s")
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "context"])  # `context` is the plain form
        kwargs.setdefault("timestamp", False)
        super().__init__(*args, **kwargs)

    def formatTime(self, record, datefmt=None):
        return datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")


_celery_connected = False


def connect_celery_signals() -> None:
    """Every line a task logs carries its task id and name. Connected once, from reviewapp.tasks."""
    global _celery_connected
    if _celery_connected:  # a second import must not bind twice
        return
    _celery_connected = True
    from celery.signals import task_postrun, task_prerun

    tokens: dict[str, Token] = {}

    @task_prerun.connect(weak=False)
    def _bind(task_id=None, task=None, **_kw):
        tokens[task_id] = bind(task_id=task_id, task=getattr(task, "name", None))

    @task_postrun.connect(weak=False)
    def _unbind(task_id=None, **_kw):
        token = tokens.pop(task_id, None)
        if token is not None:
            try:
                unbind(token)
            except ValueError:  # set in another context (should not happen): just drop it
                _context.set({})

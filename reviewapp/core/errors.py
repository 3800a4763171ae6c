"""The two error types, and the one handler that gives every API error the same shape:

    {"error": {"code": "invalid_video", "message": "the file is empty", "fields": {...}}}

`ApplicationError`: the request cannot be done as asked (bad input, a conflict); its status and
code go to the client. `OutsideError`: an outside system (object storage, SNS, DynamoDB, Label
Studio) failed; `retryable` says whether the same call later is likely to work. Each outside
system's module raises its own subclass, so a caller can catch one system or all of them.
"""

import logging

from django import db
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

log = logging.getLogger(__name__)


class ApplicationError(Exception):
    def __init__(self, message: str, *, code: str = "invalid", status_code: int = 400, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status_code = status_code
        self.fields = fields or {}


class OutsideError(Exception):
    service = "an outside system"

    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


class StorageError(OutsideError):
    """Object storage (S3, or the local folder): a clip's file, an export's destination."""

    service = "object storage"


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return {"error": body}


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            return f"{key}: {_first_message(value)}" if key != "non_field_errors" else _first_message(value)
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def api_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status_code)
    if isinstance(exc, (db.OperationalError, db.InterfaceError)):
        # The database is unreachable (restarting, failing over): the same request later should
        # work, so 503 and not a 500. Nothing was committed: the request's work is all or nothing.
        log.warning("database unavailable for %s: %s", context["request"].path, exc)
        response = Response(
            error_body("service_unavailable", "the database is unavailable; try again shortly"), status=503
        )
        response["Retry-After"] = "5"
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django log it and answer 500
    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body("invalid", _first_message(exc.detail), fields)
    else:
        code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
        code = code if isinstance(code, str) else "error"
        response.data = error_body(code, _first_message(getattr(exc, "detail", str(exc))))
    return response


def handler404(request, exception=None):
    """JSON in the one error shape under /api/ and /labeling/, Django's page elsewhere."""
    if request.path.startswith(("/api/", "/labeling/")):
        from django.http import JsonResponse

        return JsonResponse(error_body("not_found", "Not found."), status=status.HTTP_404_NOT_FOUND)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def handler500(request):
    if request.path.startswith(("/api/", "/labeling/")):
        from django.http import JsonResponse

        return JsonResponse(error_body("server_error", "Internal error; it has been logged."), status=500)
    from django.views.defaults import server_error

    return server_error(request)

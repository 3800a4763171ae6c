"""`/healthz/`: what the load balancer (and compose's healthcheck) asks every web task for.

One `SELECT 1` and nothing else: no login, no session, no throttle, no CSRF. 200 `{"status":
"ok"}` while the database answers; 503 in the error shape of reviewapp.core.errors when it does
not, so the load balancer takes the task out of service instead of sending it requests that fail.
"""

import logging

from django import db
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from reviewapp.core.errors import error_body

log = logging.getLogger(__name__)


@csrf_exempt
@never_cache
@require_safe
def healthz(request):
    try:
        with db.connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except (db.OperationalError, db.InterfaceError) as exc:
        log.warning("health check: database unavailable: %s", exc)
        response = JsonResponse(error_body("service_unavailable", "the database is unavailable"), status=503)
        response["Retry-After"] = "5"
        return response
    return JsonResponse({"status": "ok"})

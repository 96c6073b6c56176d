"""Health endpoint for load balancers and monitoring."""

from django.db import DatabaseError, connection
from django.http import JsonResponse
from django.views.decorators.http import require_safe

from wangyin.core import clock


@require_safe
def healthz(request):
    started = clock.now()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        database = {"status": "ok"}
        status = 200
    except DatabaseError:
        database = {"status": "unavailable"}
        status = 503
    elapsed_ms = (clock.now() - started).total_seconds() * 1000
    body = {
        "status": "ok" if status == 200 else "degraded",
        "database": {**database, "latency_ms": round(elapsed_ms, 2)},
    }
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response

"""503 instead of 500 when PostgreSQL or Redis is down: the failure is the service's, not the
client's, and the client should retry (Retry-After). Tracebacks are still logged.

The page is plain HTML built here: the usual templates ask the database who is logged in.
"""

import logging

import redis
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
# Publishing a task (kombu) or talking to Redis directly (health, rate limits, results).
QUEUE_ERRORS = (redis.RedisError, BrokerError)
# What a Celery task retries with backoff: the database or Redis blinked.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError)
RETRY_AFTER_S = 5

MESSAGES = {
    "database": "The database is unavailable right now; retry in a few seconds.",
    "queue": "The message queue (Redis) is unavailable right now; retry in a few seconds.",
}
PAGE = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
    "<title>Temporarily unavailable · FacePass</title></head>"
    "<body><h1>Temporarily unavailable</h1><p role='alert'>{message}</p></body></html>"
)


def unavailable_part(exc: BaseException) -> str | None:
    if isinstance(exc, DATABASE_ERRORS):
        return "database"
    if isinstance(exc, QUEUE_ERRORS):
        return "queue"
    return None


def wants_json(request) -> bool:
    accept = request.headers.get("Accept", "")
    return (
        request.path.startswith("/api/")
        or "application/json" in accept
        or request.headers.get("X-Requested-With") == "XMLHttpRequest"
        or request.path.endswith("/check")
    )


def unavailable_response(request, part: str) -> HttpResponse:
    message = MESSAGES[part]
    response: HttpResponse
    if wants_json(request):
        response = JsonResponse({"code": "unavailable", "message": message}, status=503)
    else:
        response = HttpResponse(PAGE.format(message=message), status=503)
    response["Retry-After"] = str(RETRY_AFTER_S)
    return response


class ServiceUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        part = unavailable_part(exception)
        if part is None:
            return None
        logger.error(
            "%s unavailable during %s %s", part, request.method, request.path, exc_info=exception
        )
        return unavailable_response(request, part)

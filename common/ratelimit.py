"""Fixed-window rate limits counted in Redis, shared by every web process.

A limit is a setting `(requests, window_seconds)` (see envconfig.env_rate) or None for off.
Each `hit` adds to the counter of the current window (aligned to the epoch, so every process
agrees) and says whether the request is still within the limit and how long until the window
resets (the Retry-After). Identifiers that are personal (e-mail addresses, ticket codes) are
keyed by an HMAC digest, never stored in Redis or logged in clear.

Redis being unreachable lets requests through (logged): the gates must keep working, and
Celery, which needs the same Redis, is down anyway.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import logging
import math
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import ngettext

logger = logging.getLogger("facepass.security")

Rate = tuple[int, int]  # (requests, window seconds)


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    count: int
    limit: int
    window: int
    retry_after: int  # whole seconds until the current window ends, at least 1


@functools.lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def _key(scope: str, ident: str, window: int, index: int) -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "facepass")
    return f"{prefix}:ratelimit:{scope}:{window}:{ident}:{index}"


def _count(scope: str, ident: str, rate: Rate, cost: int) -> Verdict:
    limit, window = rate
    now = time.time()
    index = int(now // window)
    retry_after = max(1, math.ceil((index + 1) * window - now))
    key = _key(scope, ident, window, index)
    try:
        client = _client(settings.REDIS_URL)
        if cost:
            pipe = client.pipeline(transaction=True)
            pipe.set(key, 0, ex=window + 1, nx=True)
            pipe.incrby(key, cost)
            count = int(pipe.execute()[1])
        else:
            count = int(client.get(key) or 0)  # type: ignore[arg-type]  # a sync client
    except redis.RedisError as exc:
        logger.error("rate limit %s not checked, Redis unavailable: %s", scope, exc)
        return Verdict(True, 0, limit, window, retry_after)
    allowed = count <= limit if cost else count < limit
    return Verdict(allowed, count, limit, window, retry_after)


def hit(scope: str, ident: str, rate: Rate | None, *, cost: int = 1) -> Verdict | None:
    """Count one request of `ident` in `scope`; None when the limit is off."""
    if rate is None:
        return None
    return _count(scope, ident, rate, cost)


def peek(scope: str, ident: str, rate: Rate | None) -> Verdict | None:
    """Is `ident` already at its limit? Counts nothing (for limits on failures only)."""
    if rate is None:
        return None
    return _count(scope, ident, rate, 0)


def first_refusal(*verdicts: Verdict | None) -> Verdict | None:
    """The refusal with the longest wait among `verdicts`, or None when all allow."""
    refused = [v for v in verdicts if v is not None and not v.allowed]
    return max(refused, key=lambda v: v.retry_after) if refused else None


def digest(value: str) -> str:
    """A short keyed digest of a personal identifier, for counters and logs."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, value.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:16]


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or behind FACEPASS_TRUSTED_PROXIES reverse proxies
    the address the outermost trusted proxy saw (X-Forwarded-For counted from the right, so
    a client cannot choose its own address by sending the header itself)."""
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies = getattr(settings, "FACEPASS_TRUSTED_PROXIES", 0)
    if proxies <= 0:
        return remote
    chain = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    chain = [p for p in chain if p]
    if len(chain) < proxies:
        return remote
    candidate = chain[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def wait_text(seconds: int) -> str:
    if seconds < 90:
        return ngettext("%(n)d second", "%(n)d seconds", seconds) % {"n": seconds}
    minutes = math.ceil(seconds / 60)
    return ngettext("%(n)d minute", "%(n)d minutes", minutes) % {"n": minutes}


def too_many_requests(request, verdict: Verdict, message: str, *, as_json: bool) -> HttpResponse:
    """429 with Retry-After: JSON {"code": "rate_limited", ...} or the HTML page."""
    response: HttpResponse
    if as_json:
        body = {"code": "rate_limited", "message": message, "retry_after": verdict.retry_after}
        response = JsonResponse(body, status=429)
    else:
        context = {"message": message, "retry_after": wait_text(verdict.retry_after)}
        html = render_to_string("rate_limited.html", context, request=request)
        response = HttpResponse(html, status=429)
    response["Retry-After"] = str(verdict.retry_after)
    response["Cache-Control"] = "no-store"
    return response

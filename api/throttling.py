"""Per-API-key rate limit (FACEPASS_RATE_API_KEY), counted in Redis across web processes."""

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.throttling import BaseThrottle

from api.models import ApiKey
from common import ratelimit


class RateLimited(exceptions.Throttled):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "rate_limited"


class ApiKeyRateThrottle(BaseThrottle):
    """Counts every authenticated request of a key; requests without a key are refused by
    authentication before this runs (401)."""

    def allow_request(self, request, view):
        key = request.auth
        if not isinstance(key, ApiKey):
            return True
        verdict = ratelimit.hit("api-key", str(key.pk), settings.FACEPASS_RATE_API_KEY)
        if verdict is None or verdict.allowed:
            return True
        raise RateLimited(
            wait=verdict.retry_after,
            # Throttled appends "Expected available in N seconds."
            detail=_(
                "Too many requests for this API key: at most %(limit)s per %(window)s seconds."
            )
            % {"limit": verdict.limit, "window": verdict.window},
        )

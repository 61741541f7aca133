"""Webhook signatures. Django-free, so a receiver written in Python can copy this file.

The signed string is `f"{timestamp}.{body}"`: binding the timestamp into the MAC lets a
receiver reject replays of an old request, and signing the raw body (not parsed JSON)
spares both sides from agreeing on a JSON serialisation.
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_VERSION = "v1"
TIMESTAMP_HEADER = "X-FacePass-Timestamp"
SIGNATURE_HEADER = "X-FacePass-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def signature_compute(secret: str, timestamp: int | str, body: str | bytes) -> str:
    """Hex HMAC-SHA256 of `{timestamp}.{body}` keyed with the endpoint's secret."""
    message = f"{timestamp}.".encode() + _as_bytes(body)
    return hmac.new(_as_bytes(secret), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int | str, body: str | bytes) -> str:
    return f"{SIGNATURE_VERSION}={signature_compute(secret, timestamp, body)}"


def signature_verify(
    secret: str,
    timestamp: str | int,
    body: str | bytes,
    header: str,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    *,
    now: float | None = None,
) -> bool:
    """True when `header` (the X-FacePass-Signature value) signs `body` at `timestamp`,
    and the timestamp is within `tolerance` seconds of now.

    The header may list several comma-separated `v1=` signatures (e.g. during a secret
    change); any one matching is enough. Pass the raw request body, not re-encoded JSON.
    """
    try:
        sent_at = int(timestamp)
    except (TypeError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        return False
    expected = signature_compute(secret, timestamp, body).encode()
    for part in (header or "").split(","):
        version, _, value = part.strip().partition("=")
        # Bytes: compare_digest refuses non-ASCII str, and the header is untrusted input.
        if version == SIGNATURE_VERSION and hmac.compare_digest(value.encode(), expected):
            return True
    return False

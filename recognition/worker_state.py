"""Per-deployment facts a worker child publishes for the heartbeat (which detector runs)."""

import json

DETECTOR_KEY = "facepass:detector"


def publish_detector(client, name: str, fallback_reason: str | None) -> None:
    client.set(DETECTOR_KEY, json.dumps({"detector": name, "fallback": fallback_reason}))


def detector_status(client) -> dict:
    try:
        raw = client.get(DETECTOR_KEY)
    except Exception:  # noqa: BLE001
        return {}
    if not raw:
        return {}
    data = json.loads(raw)
    return {"detector": data.get("detector"), "detector_fallback": data.get("fallback")}

"""Where one gate decision's time goes, measured around the real code of the web half.

The gate latency benchmark runs the web half in its own process (Django's test client through
the whole request handler), so the stages are clocked by wrapping, for the benchmark's process
only, the functions the decision calls:
- liveness_check: the scan of worker heartbeats in Redis before each publish
  (recognition.frames.queue_has_worker);
- round_trip: publishing the frames on the `gate` queue until the answer is back
  (recognition.frames.frames_embed_on_gate_queue, which includes liveness_check);
  face_compute is the part the worker reports as its own pipeline stages (decode, detect,
  quality, align, embed of every frame), queue the rest: base64, serialisation, the broker,
  the worker's pick-up, the result's way back and the client polling for it;
- search: the gallery reads of the decision (gate_nearest_holders, holder_templates);
- writes: the check-in row with its webhook deliveries, and kept dispute frames;
- web: everything else of the request (middleware, session, form parsing, the ticket lookup,
  the decision rules, the JSON answer).
"""

from __future__ import annotations

import contextlib
import functools
import time

import numpy as np

# (module, attribute, stage): the names as the calling modules see them.
WRAPPED = [
    ("recognition.frames", "queue_has_worker", "liveness_check"),
    ("checkins.gate", "frames_embed_on_gate_queue", "round_trip"),
    ("checkins.gate", "gate_nearest_holders", "search"),
    ("checkins.gate", "holder_templates", "search"),
    ("checkins.services", "checkin_record", "writes"),
    ("checkins.services", "checkin_frames_keep", "writes"),
]
STAGES = ("web", "liveness_check", "queue", "face_compute", "search", "writes")


class StageClock:
    """Milliseconds per stage of the current request, while installed."""

    def __init__(self):
        self.current: dict[str, float] = {}
        self.saved: list[tuple[object, str, object]] = []

    def _wrap(self, function, stage: str):
        @functools.wraps(function)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                result = function(*args, **kwargs)
            finally:
                elapsed = (time.perf_counter() - started) * 1000
                self.current[stage] = self.current.get(stage, 0.0) + elapsed
            if stage == "round_trip":
                face = sum(sum(f.timings_ms.values()) for f in result.frames)
                self.current["face_compute"] = self.current.get("face_compute", 0.0) + face
            return result

        return timed

    def __enter__(self) -> StageClock:
        import importlib

        for module_name, attribute, stage in WRAPPED:
            module = importlib.import_module(module_name)
            original = getattr(module, attribute)
            self.saved.append((module, attribute, original))
            setattr(module, attribute, self._wrap(original, stage))
        return self

    def __exit__(self, *exc) -> None:
        for module, attribute, original in reversed(self.saved):
            setattr(module, attribute, original)
        self.saved.clear()

    @contextlib.contextmanager
    def request(self, into: list[dict]):
        """Clock one request; its stages (web = total minus the rest) are appended to `into`."""
        self.current = {}
        started = time.perf_counter()
        yield
        total = (time.perf_counter() - started) * 1000
        stages = dict(self.current)
        round_trip = stages.pop("round_trip", 0.0)
        stages["queue"] = round_trip - stages.get("liveness_check", 0.0)
        stages["queue"] -= stages.get("face_compute", 0.0)
        stages["web"] = total - round_trip - stages.get("search", 0.0) - stages.get("writes", 0)
        into.append({"total": total, **{stage: stages.get(stage, 0.0) for stage in STAGES}})


def summarise(requests: list[dict]) -> dict:
    """p50 and mean milliseconds per stage over the timed requests (p50s do not add up)."""
    if not requests:
        return {}
    out = {}
    for stage in ("total", *STAGES):
        values = np.asarray([r[stage] for r in requests])
        out[stage] = {
            "p50_ms": round(float(np.percentile(values, 50)), 2),
            "mean_ms": round(float(values.mean()), 2),
        }
    total_mean = out["total"]["mean_ms"]
    for stage in STAGES:
        out[stage]["share_of_mean"] = round(out[stage]["mean_ms"] / total_mean, 3)
    return out


def ratios(modes: dict) -> dict:
    """The issue's targets: ticket + face p50 over the per-face compute of the same run
    (the worker's own pipeline stages, p50 over the ticket + face requests), and face-only p50
    over ticket + face p50."""
    ticket = modes.get("ticket_and_face", {})
    face_only = modes.get("face_only", {})
    compute = ticket.get("profile", {}).get("face_compute", {}).get("p50_ms")
    out: dict = {"per_face_compute_p50_ms": compute}
    if compute and ticket.get("p50_ms"):
        out["ticket_and_face_over_face_compute"] = round(ticket["p50_ms"] / compute, 2)
        out["target_ticket_and_face_over_face_compute"] = 2.5
    if ticket.get("p50_ms") and face_only.get("p50_ms"):
        out["face_only_over_ticket_and_face"] = round(face_only["p50_ms"] / ticket["p50_ms"], 2)
        out["target_face_only_over_ticket_and_face"] = 1.2
    return out

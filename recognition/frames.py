"""Gate frames between the web process and a gate worker: the typed per-frame result, and the
web half of the round trip (publish on the `gate` queue, wait for the answer).

The web process never loads a model: frames go to a gate worker, which answers one FrameResult
per frame (recognition.gate_worker).
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field

import numpy as np
from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings

from common import queues
from common.unavailable import QUEUE_ERRORS
from common.workers import queue_has_worker
from recognition.models import EmbeddingModel


class GateUnavailable(RuntimeError):
    """No gate worker answered in time: the web layer answers 503."""


@dataclass(frozen=True)
class FrameResult:
    """One camera frame as the gate worker saw it: the largest face's embedding, or why not."""

    embedding: list[float] | None  # unit length, the model's dimensions; None: no usable face
    code: str = ""  # a common.reasons code when there is no embedding
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def vector(self) -> np.ndarray | None:
        return None if self.embedding is None else np.asarray(self.embedding, np.float32)

    def as_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> FrameResult:
        return cls(data["embedding"], data.get("code") or "", data.get("timings_ms") or {})


@dataclass(frozen=True)
class LivenessRequest:
    """What the event asks of a burst: its policy ("passive" / "challenge") and, under
    "challenge", the direction the person was asked to turn (their own left or right)."""

    policy: str
    challenge: str | None = None


@dataclass(frozen=True)
class LivenessOutcome:
    """The gate worker's verdict on a burst (recognition.ml.runtime.liveness)."""

    live: bool
    code: str = ""  # "" when live; not_live, challenge_not_met or too_few_frames
    score: float = 0.0
    policy: str = ""
    challenge: str | None = None
    failed: list[str] = field(default_factory=list)
    frames_used: int = 0
    ms: float = 0.0

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GateAnswer:
    frames: list[FrameResult]
    liveness: LivenessOutcome | None = None
    loading: bool = False  # the worker's process was still loading the face model

    def as_json(self) -> dict:
        body = self.liveness.as_json() if self.liveness else None
        frames = [f.as_json() for f in self.frames]
        return {"frames": frames, "liveness": body, "loading": self.loading}

    @classmethod
    def from_json(cls, data: dict) -> GateAnswer:
        liveness = LivenessOutcome(**data["liveness"]) if data.get("liveness") else None
        frames = [FrameResult.from_json(item) for item in data["frames"]]
        return cls(frames, liveness, bool(data.get("loading")))


def frames_embed_on_gate_queue(
    frames: list[bytes], model: EmbeddingModel, liveness: LivenessRequest | None = None
) -> GateAnswer:
    """Embed each frame's largest face on a gate worker and, when the event asks, judge the
    burst's liveness there too; GateUnavailable when no gate worker answers."""
    payload = [base64.b64encode(frame).decode("ascii") for frame in frames]
    spec = asdict(liveness) if liveness else None
    try:
        if not queue_has_worker(queues.GATE):
            raise GateUnavailable("No face worker is running for the gates; start a gate worker.")
        async_result = queues.task_send(queues.Task.GATE_EMBED_FRAMES, payload, model.pk, spec)
        try:
            answer = async_result.get(timeout=settings.FACEPASS_GATE_TIMEOUT_SECONDS)
        except CeleryTimeout:
            async_result.revoke()
            raise GateUnavailable("The face worker did not answer in time.") from None
    except QUEUE_ERRORS as exc:
        raise GateUnavailable(
            "The message queue to the face workers (Redis) is unavailable; retry shortly."
        ) from exc
    reply = GateAnswer.from_json(answer)
    if reply.loading:
        raise GateUnavailable("The gate worker is still loading the face model; retry shortly.")
    return reply

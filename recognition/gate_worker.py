"""Worker half of a gate decision: frames in, one FrameResult per frame (and the burst's liveness
when the event asks for it) out, as recognition.frames.GateAnswer."""

from __future__ import annotations

import base64
import binascii
import functools

import numpy as np
from django.conf import settings

from common.reasons import Reason
from recognition import inference
from recognition.frames import FrameResult, GateAnswer, LivenessOutcome, LivenessRequest
from recognition.ml.runtime.pipeline import GateFrame
from recognition.models import EmbeddingModel


@functools.lru_cache(maxsize=8)
def _model(model_id: int) -> EmbeddingModel:
    # What the pipeline needs of a model row (kind, artifact) never changes: one query per
    # process instead of one per gate frame.
    return EmbeddingModel.objects.get(pk=model_id)


def _frame_result(frame: GateFrame) -> FrameResult:
    result = frame.result
    timings = {k: round(v, 2) for k, v in result.timings_ms.items()}
    if result.embedding is None:
        return FrameResult(None, result.verdict.code or Reason.NO_FACE, timings)
    return FrameResult([float(v) for v in np.asarray(result.embedding)], "", timings)


def _decode(frames_b64: list[str]) -> list[bytes | None]:
    images: list[bytes | None] = []
    for frame in frames_b64:
        try:
            images.append(base64.b64decode(frame, validate=True))
        except (binascii.Error, ValueError):
            images.append(None)
    return images


def _liveness(frames: list[GateFrame], request: LivenessRequest) -> LivenessOutcome:
    verdict = inference.assess_liveness(frames, request.policy, request.challenge)
    return LivenessOutcome(
        live=verdict.live,
        code=verdict.code or "",
        score=round(verdict.score, 3),
        policy=request.policy,
        challenge=request.challenge,
        failed=list(verdict.failed),
        frames_used=verdict.frames_used,
        ms=round(verdict.timings_ms.get("total", 0.0), 1),
    )


def embed_frames(frames_b64: list[str], model_id: int, liveness: dict | None = None) -> dict:
    model = _model(model_id)
    try:
        inference.wait_until_loaded(model, settings.FACEPASS_GATE_MODEL_WAIT_SECONDS)
    except inference.ModelLoading:
        return GateAnswer([], loading=True).as_json()
    images = _decode(frames_b64)
    readable = [image for image in images if image is not None]
    embedded = iter(inference.embed_gate_frames(model, readable) if readable else ())
    gate_frames: list[GateFrame | None] = [
        next(embedded) if image is not None else None for image in images
    ]
    results = [
        _frame_result(f) if f is not None else FrameResult(None, Reason.NOT_AN_IMAGE)
        for f in gate_frames
    ]
    outcome = None
    if liveness:
        burst = [f for f in gate_frames if f is not None]
        outcome = _liveness(burst, LivenessRequest(**liveness))
    return GateAnswer(results, outcome).as_json()

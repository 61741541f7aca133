"""Worker half of a gate decision: frames in, one FrameResult per frame out."""

from __future__ import annotations

import base64
import binascii
import functools

from common.reasons import Reason
from recognition import inference
from recognition.frames import FrameResult
from recognition.models import EmbeddingModel


@functools.lru_cache(maxsize=8)
def _model(model_id: int) -> EmbeddingModel:
    # What the pipeline needs of a model row (kind, artifact) never changes: one query per
    # process instead of one per gate frame.
    return EmbeddingModel.objects.get(pk=model_id)


def _frame_result(image: bytes, model: EmbeddingModel) -> FrameResult:
    result = inference.embed_largest_face(model, image)
    timings = {k: round(v, 2) for k, v in result.timings_ms.items()}
    if result.embedding is None:
        return FrameResult(None, result.verdict.code or Reason.NO_FACE, timings)
    return FrameResult([float(v) for v in result.embedding], "", timings)


def embed_frames(frames_b64: list[str], model_id: int) -> list[dict]:
    model = _model(model_id)
    out = []
    for frame in frames_b64:
        try:
            image = base64.b64decode(frame, validate=True)
        except (binascii.Error, ValueError):
            out.append(FrameResult(None, Reason.NOT_AN_IMAGE).as_json())
            continue
        out.append(_frame_result(image, model).as_json())
    return out

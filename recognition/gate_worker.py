"""Worker half of a gate decision: frames in, one embedding (or a reason) per frame out."""

import base64
import binascii
import functools

from recognition import inference
from recognition.models import EmbeddingModel


@functools.lru_cache(maxsize=8)
def _model(model_id: int) -> EmbeddingModel:
    # What the pipeline needs of a model row (kind, artifact) never changes: one query per
    # process instead of one per gate frame.
    return EmbeddingModel.objects.get(pk=model_id)


def embed_frames(frames_b64: list[str], model_id: int) -> list[dict]:
    model = _model(model_id)
    out = []
    for frame in frames_b64:
        try:
            image = base64.b64decode(frame, validate=True)
        except (binascii.Error, ValueError):
            out.append({"embedding": None, "code": "not_an_image", "message": "Not base64."})
            continue
        result = inference.embed_largest_face(model, image)
        embedding = None if result.embedding is None else [float(v) for v in result.embedding]
        out.append(
            {
                "embedding": embedding,
                "code": None if embedding else result.verdict.code,
                "message": "" if embedding else result.verdict.message,
                "timings_ms": {k: round(v, 2) for k, v in result.timings_ms.items()},
            }
        )
    return out

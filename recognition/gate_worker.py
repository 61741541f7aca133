"""Worker half of a gate decision: frames in, one embedding (or a reason) per frame out."""

import base64
import binascii

from recognition import inference
from recognition.models import EmbeddingModel


def embed_frames(frames_b64: list[str], model_id: int) -> list[dict]:
    model = EmbeddingModel.objects.get(pk=model_id)
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

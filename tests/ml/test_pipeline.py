import cv2
import numpy as np

from recognition.ml.runtime.pipeline import FacePipeline


def test_enrollment_embeds_accepted_photos_and_explains_the_rest(yunet, dlib_embedder, photo):
    pipeline = FacePipeline(yunet, dlib_embedder)
    jpeg = cv2.imencode(".jpg", photo)[1].tobytes()
    results = pipeline.process([photo, np.zeros((200, 200, 3), np.uint8), jpeg, b"junk"])
    assert [r.verdict.code for r in results] == [None, "no_face", None, "not_an_image"]
    assert results[0].accepted and results[0].embedding.shape == (128,)
    assert results[1].embedding is None
    assert float(results[0].embedding @ results[2].embedding) > 0.95
    assert {"decode", "detect", "quality", "align", "embed"} <= set(results[2].timings_ms)


def test_the_gate_path_embeds_the_largest_face_without_enrollment_standards(
    yunet, dlib_embedder, photo
):
    pipeline = FacePipeline(yunet, dlib_embedder)
    blurred = cv2.GaussianBlur(photo, (0, 0), sigmaX=3)  # refused at enrollment
    result = pipeline.embed_largest_face(blurred)
    assert result.accepted and result.embedding.shape == (128,)
    assert pipeline.embed_largest_face(cv2.hconcat([photo, photo])).verdict.code == (
        "multiple_faces"
    )

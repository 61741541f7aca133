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


def test_a_phone_sized_selfie_decoded_reduced_gets_the_verdict_and_face_of_a_full_decode(
    yunet, dlib_embedder, photo
):
    height, width = photo.shape[:2]
    scale = 4000 / max(height, width)  # a 12-megapixel phone photo of the same face
    large = cv2.resize(photo, (round(width * scale), round(height * scale)), cv2.INTER_CUBIC)
    jpeg = cv2.imencode(".jpg", large, [cv2.IMWRITE_JPEG_QUALITY, 92])[1].tobytes()
    limits = {"max_pixels": 20_000_000, "max_bytes": 20_000_000}
    full = FacePipeline(yunet, dlib_embedder, decode_limits=limits).process([jpeg])[0]
    reduced_pipeline = FacePipeline(
        yunet, dlib_embedder, decode_limits={**limits, "reduce_to_side": 1280}
    )
    reduced = reduced_pipeline.process([jpeg])[0]
    assert full.accepted and reduced.accepted
    assert float(full.embedding @ reduced.embedding) > 0.99
    full_box, reduced_box = np.array(full.face.box), np.array(reduced.face.box)
    # Decoded at half size (2000 of 4000 pixels; a quarter would be under 1280): boxes in the
    # pixels decoded.
    assert np.allclose(reduced_box * 2, full_box, rtol=0.05, atol=8)

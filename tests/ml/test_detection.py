import numpy as np
import pytest

from recognition.ml.runtime.detection import (
    YUNET_SHA256,
    DlibHogDetector,
    get_detector,
    resolve_yunet_model,
)


def assert_plausible_face(face, image):
    x, y, w, h = face.box
    assert w > 30 and h > 30
    assert 0 <= x < image.shape[1] and 0 <= y < image.shape[0]
    right_eye, left_eye, nose, right_mouth, left_mouth = face.landmarks
    assert right_eye[0] < left_eye[0], "subject's right eye has the smaller x"
    assert right_mouth[0] < left_mouth[0]
    assert max(right_eye[1], left_eye[1]) < nose[1] < min(right_mouth[1], left_mouth[1])
    assert face.landmarks.shape == (5, 2)


def test_yunet_finds_the_face_in_a_celeba_photo(yunet, photo):
    faces = yunet.detect(photo)
    assert len(faces) >= 1
    assert faces[0].score > 0.6
    assert_plausible_face(faces[0], photo)


def test_yunet_results_are_in_original_pixels_when_detecting_on_a_downscaled_copy(yunet, photo):
    big = np.kron(photo, np.ones((3, 3, 1), np.uint8))  # 3x upscale, beyond max_side
    small_face, big_face = yunet.detect(photo)[0], yunet.detect(big)[0]
    assert np.allclose(np.array(big_face.box) / 3, small_face.box, atol=4)


def test_dlib_hog_finds_the_face_with_landmarks_in_yunet_order(yunet, photo):
    faces = DlibHogDetector().detect(photo)
    assert len(faces) == 1
    assert_plausible_face(faces[0], photo)
    reference = yunet.detect(photo)[0].landmarks
    eye_distance = np.linalg.norm(reference[1] - reference[0])
    assert np.abs(faces[0].landmarks[:3] - reference[:3]).max() < 0.35 * eye_distance


def test_detectors_find_nothing_in_a_blank_image(yunet):
    blank = np.full((240, 320, 3), 128, np.uint8)
    assert yunet.detect(blank) == []
    assert DlibHogDetector().detect(blank) == []


def test_a_configured_yunet_path_is_used_and_a_missing_one_is_an_error(yunet_model_path, tmp_path):
    assert resolve_yunet_model(str(yunet_model_path), tmp_path) == yunet_model_path
    with pytest.raises(FileNotFoundError):
        resolve_yunet_model(str(tmp_path / "nope.onnx"), tmp_path)


def test_a_verified_cached_yunet_file_is_used_without_downloading(
    yunet_model_path, tmp_path, monkeypatch
):
    cached = tmp_path / "face_detection_yunet.onnx"
    cached.symlink_to(yunet_model_path)
    monkeypatch.setattr("urllib.request.urlretrieve", pytest.fail)
    assert resolve_yunet_model(None, tmp_path) == cached


def test_a_download_with_the_wrong_checksum_is_deleted_and_refused(tmp_path, monkeypatch):
    import http.server
    import threading

    class WrongFile(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802  (http.server's naming)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"not the model")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), WrongFile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/yunet.onnx"
    monkeypatch.setattr("recognition.ml.runtime.detection.YUNET_URL", url)
    try:
        with pytest.raises(ValueError, match=YUNET_SHA256):
            resolve_yunet_model(None, tmp_path)
    finally:
        server.shutdown()
    assert list(tmp_path.iterdir()) == []


def test_yunet_falls_back_to_dlib_hog_loudly_when_the_model_cannot_be_had(tmp_path, caplog):
    detector = get_detector("yunet", str(tmp_path / "missing.onnx"))
    assert detector.name == "dlib-hog"
    assert "missing.onnx" in detector.fallback_reason
    assert "FALLBACK" in caplog.text


def test_get_detector_loads_once_per_process(yunet_model_path):
    first = get_detector("yunet", str(yunet_model_path))
    assert first is get_detector("yunet", str(yunet_model_path))
    assert first.name == "yunet" and first.fallback_reason is None

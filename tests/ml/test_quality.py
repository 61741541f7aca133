"""Each gate on an image made here from one good celeba photo."""

import cv2
import numpy as np
import pytest

from recognition.ml.runtime.detection import DetectedFace
from recognition.ml.runtime.quality import QualityThresholds, assess_quality, yaw_ratio


def verdict_for(image, yunet):
    return assess_quality(image, yunet.detect(image), QualityThresholds())


def test_a_good_photo_is_accepted_with_its_figures(photo, yunet):
    verdict = verdict_for(photo, yunet)
    assert verdict.accepted and verdict.code is None and verdict.face is not None
    assert {"face_px", "sharpness", "brightness", "yaw_ratio"} <= set(verdict.figures)


def test_a_blank_image_has_no_face(yunet):
    verdict = verdict_for(np.full((300, 300, 3), 90, np.uint8), yunet)
    assert (verdict.accepted, verdict.code) == (False, "no_face")


def test_two_people_side_by_side_are_multiple_faces(photo, yunet):
    assert verdict_for(cv2.hconcat([photo, photo]), yunet).code == "multiple_faces"


def test_a_small_face_in_the_background_does_not_count_as_a_second_person(photo, yunet):
    canvas = np.full((photo.shape[0], photo.shape[1] + 60, 3), 120, np.uint8)
    canvas[:, : photo.shape[1]] = photo
    tiny = cv2.resize(photo, None, fx=0.15, fy=0.15, interpolation=cv2.INTER_AREA)
    canvas[: tiny.shape[0], -tiny.shape[1] :] = tiny
    assert verdict_for(canvas, yunet).accepted


def test_a_tiny_face_on_a_large_canvas_is_too_small(photo, yunet):
    face_width = yunet.detect(photo)[0].box[2]
    scale = 17.0 / face_width  # under min_face_px, still findable by YuNet
    tiny = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 120, np.uint8)
    canvas[200 : 200 + tiny.shape[0], 300 : 300 + tiny.shape[1]] = tiny
    assert verdict_for(canvas, yunet).code == "face_too_small"


def test_a_blurred_copy_is_too_blurred(photo, yunet):
    blurred = cv2.GaussianBlur(photo, (0, 0), sigmaX=3)
    verdict = verdict_for(blurred, yunet)
    assert verdict.code == "too_blurred", verdict.figures


def test_a_darkened_copy_is_too_dark(photo, yunet):
    dark = cv2.convertScaleAbs(photo, alpha=0.3)
    assert verdict_for(dark, yunet).code == "too_dark"


def test_an_overexposed_copy_is_overexposed(photo, yunet):
    bright = cv2.convertScaleAbs(photo, alpha=2.0, beta=120)
    assert verdict_for(bright, yunet).code == "overexposed"


def test_a_face_turned_to_profile_is_not_frontal(photo, yunet):
    face = yunet.detect(photo)[0]
    eye_distance = float(np.linalg.norm(face.landmarks[1] - face.landmarks[0]))
    turned = face.landmarks.copy()
    turned[2, 0] = turned[1, 0] + 0.2 * eye_distance  # nose beyond the left eye: a profile
    fake = DetectedFace(face.box, turned, face.score)
    verdict = assess_quality(photo, [fake], QualityThresholds())
    assert verdict.code == "pose_not_frontal"
    assert verdict.figures["yaw_ratio"] > 0.55


def test_a_real_profile_photo_is_not_frontal(val_dir, yunet):
    from recognition.ml.runtime.imageio import read_image_file

    # One of the val photos the quality report lists as a profile (yaw ratio about 1.4).
    verdict = verdict_for(read_image_file(val_dir / "7204" / "128794.jpg"), yunet)
    assert verdict.code == "pose_not_frontal"


@pytest.mark.parametrize("nose_shift, expected", [(0.0, 0.0), (0.25, 0.25), (-0.5, 0.5)])
def test_yaw_ratio_measures_the_sideways_nose_offset(nose_shift, expected):
    landmarks = np.array([[0, 0], [10, 0], [5 + 10 * nose_shift, 6], [2, 10], [8, 10]], float)
    assert yaw_ratio(landmarks) == pytest.approx(expected)

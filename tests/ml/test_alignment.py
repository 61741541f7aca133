import cv2
import numpy as np

from recognition.ml.runtime.alignment import align_face, template_for, umeyama_similarity


def test_umeyama_recovers_a_known_similarity_transform():
    source = np.array([[10, 10], [50, 12], [30, 35], [15, 55], [45, 56]], float)
    angle, scale, shift = np.deg2rad(20), 1.7, np.array([5.0, -3.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    target = source @ (scale * rotation).T + shift
    matrix = umeyama_similarity(source, target)
    assert np.allclose(matrix[:, :2], scale * rotation) and np.allclose(matrix[:, 2], shift)


def test_alignment_puts_the_eyes_at_the_template_positions(yunet, photo):
    face = yunet.detect(photo)[0]
    size, margin = 160, 0.2
    # Mark the detected eye centres in a copy, align it, and find the marks again.
    marked = photo.copy()
    for x, y in face.landmarks[:2]:
        cv2.circle(marked, (round(x), round(y)), 2, (0, 255, 0), -1)
    crop = align_face(marked, face.landmarks, size, margin)
    assert crop.shape == (size, size, 3) and crop.dtype == np.uint8
    green = (crop[..., 1] > 200) & (crop[..., 0] < 80) & (crop[..., 2] < 80)
    ys, xs = np.nonzero(green)
    left_half = xs < size / 2
    found = [(xs[side].mean(), ys[side].mean()) for side in (left_half, ~left_half)]
    expected = template_for(size, margin)[:2]
    # The five points are fitted jointly, so each eye lands near (not exactly on) its target.
    assert np.abs(np.array(found) - expected).max() < 0.1 * size


def test_aligned_crops_are_rgb():
    landmarks = template_for(112, 0.0).astype(np.float32)
    blue = np.zeros((112, 112, 3), np.uint8)
    blue[..., 0] = 255  # BGR blue
    crop = align_face(blue, landmarks, 112, 0.0)
    assert crop[56, 56].tolist() == [0, 0, 255]

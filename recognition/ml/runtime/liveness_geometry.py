"""Burst geometry for liveness. A photo or a screen, however it is moved, is one plane: every
point of it follows one homography between two frames. A real head turning does not: the nose
leaves the plane of the eyes and mouth (parallax).

Two measures of that:
- landmarks: dlib's 68 points per frame, each frame mapped onto the first by the homography of the
  points near one plane (eye corners, brows, mouth corners); the nose's departure from it, and the
  eyes' and mouth's change of shape (blinks, speech). dlib's shape model has a 3D face as its
  prior, so on a flat face turned 30-50 degrees it moves the nose as if the head had turned (up to
  0.35 inter-eye distances, measured on rendered cards): alone, it cannot tell.
- dense: the landmark homography only starts a dense alignment. Each frame's face is warped onto
  the first frame's, optical flow (DIS) measures what is left, a homography is fitted to the flow
  twice, and what no homography explains is the parallax: near zero for any flat surface, however
  turned, and several percent of the inter-eye distance at the nose of a turning head.

Coordinates: every frame is expressed in the *normalised* frame of the first one, where the
subject's right eye centre is at (-0.5, 0), the left eye centre at (+0.5, 0), and y points down
towards the chin. One unit is the first frame's inter-eye distance. In an unmirrored camera image
(as a camera delivers it, not a selfie preview), +x is the subject's own left: a head turning to
its left moves the nose tip towards +x.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from recognition.ml.runtime.detection import DetectedFace

# dlib 68-point indices (iBUG 300-W): 17-21 and 22-26 brows, 36-41 and 42-47 eyes,
# 27-35 nose, 48-67 mouth.
RIGHT_EYE = list(range(36, 42))  # subject's right: smaller x in an unmirrored image
LEFT_EYE = list(range(42, 48))
# Points close to one plane across the face: eye corners, brows and mouth corners. The jaw line
# is left out (it is a silhouette, not a fixed point on the face), and so are the eyelids and
# lips, which move by themselves.
PLANE_POINTS = [17, 19, 21, 22, 24, 26, 36, 39, 42, 45, 48, 54]
# The lower nose (tip, wings, base) stands 2-3 cm in front of that plane on a real head.
NOSE_POINTS = [30, 31, 32, 33, 34, 35]
MOUTH_INNER_TOP = [61, 62, 63]
MOUTH_INNER_BOTTOM = [67, 66, 65]

# Where dlib's predictor expects its box, relative to YuNet's detection: dlib's frontal-face
# detector box is centred on the mean of the five landmarks, 0.04 inter-eye distances higher,
# and 1.01 times as wide as YuNet's box (medians over the 200 ORL photos at 3x).
DLIB_BOX_WIDTH_RATIO = 1.01
DLIB_BOX_RAISE = 0.04 / 2.25  # in box widths


# Dense alignment: the face is resampled to DENSE_SIZE px square (its width = one YuNet box width),
# flow is sampled every DENSE_STEP px inside an oval around the eyes, nose and mouth.
DENSE_SIZE = 96
DENSE_STEP = 4
DENSE_ITERATIONS = 2
TRIM_FRACTION = 0.8  # homography refit on the 80 % of flow vectors it fits best
NOSE_RADIUS = 0.35  # in inter-eye distances, around the nose tip (landmark 30)
CENTRE_POINTS = [36, 39, 42, 45, 48, 54, 30]


@dataclass
class BurstGeometry:
    """Per-frame geometry of a burst, all in the first frame's normalised coordinates."""

    nose_shift: np.ndarray  # (n, 2): the nose's departure from the plane, frame i minus frame 0
    plane_error: np.ndarray  # (n,): RMS distance of the plane points from their homography fit
    eye_opening: np.ndarray  # (n,): mean eye aspect ratio of the rectified eyes
    mouth_opening: np.ndarray  # (n,): inner-lip gap of the rectified mouth / mouth width


class LandmarkPredictor68:
    """dlib's 68-point shape predictor placed by a YuNet detection (a few ms per face)."""

    def __init__(self, predictor_path: str):
        import dlib

        self._dlib = dlib
        self._predictor = dlib.shape_predictor(str(predictor_path))

    def predict(self, grey: np.ndarray, face: DetectedFace) -> np.ndarray:
        """(68, 2) float64 landmarks of the face in a grey uint8 image."""
        centre = face.landmarks.astype(np.float64).mean(axis=0)
        side = face.box[2] * DLIB_BOX_WIDTH_RATIO
        cx, cy = centre[0], centre[1] - DLIB_BOX_RAISE * side
        rect = self._dlib.rectangle(
            int(round(cx - side / 2)),
            int(round(cy - side / 2)),
            int(round(cx + side / 2)),
            int(round(cy + side / 2)),
        )
        shape = self._predictor(grey, rect)
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def to_grey(frame_bgr: np.ndarray) -> np.ndarray:
    if frame_bgr.ndim == 2:
        return frame_bgr
    return cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return points[RIGHT_EYE].mean(axis=0), points[LEFT_EYE].mean(axis=0)


def normalising_similarity(points: np.ndarray) -> np.ndarray:
    """3x3 similarity taking the eye centres to (-0.5, 0) and (+0.5, 0)."""
    right, left = eye_centres(points)
    across = left - right
    scale = 1.0 / max(float(np.hypot(*across)), 1e-6)
    cos, sin = across * scale
    rotate = np.array([[cos, sin], [-sin, cos]]) * scale
    middle = (right + left) / 2
    matrix = np.eye(3)
    matrix[:2, :2] = rotate
    matrix[:2, 2] = -rotate @ middle
    return matrix


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    homogeneous = np.hstack([points, np.ones((len(points), 1))]) @ matrix.T
    return homogeneous[:, :2] / homogeneous[:, 2:3]


def fit_homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares plane homography (normalised DLT; deterministic, no sampling)."""
    matrix, _ = cv2.findHomography(src.astype(np.float64), dst.astype(np.float64), 0)
    if matrix is None:
        return np.eye(3)
    return matrix


def eye_aspect_ratio(points: np.ndarray, eye: list[int]) -> float:
    p = points[eye]
    height = float(np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4]))
    return height / max(2 * float(np.linalg.norm(p[0] - p[3])), 1e-6)


def mouth_aspect_ratio(points: np.ndarray) -> float:
    gap = np.linalg.norm(points[MOUTH_INNER_TOP] - points[MOUTH_INNER_BOTTOM], axis=1).mean()
    return float(gap / max(np.linalg.norm(points[54] - points[48]), 1e-6))


def burst_geometry(landmarks: list[np.ndarray]) -> BurstGeometry:
    """Map every frame's landmarks onto the first frame's normalised plane and measure the rest."""
    reference = apply(normalising_similarity(landmarks[0]), landmarks[0])
    ref_plane = reference[PLANE_POINTS]
    ref_nose = reference[NOSE_POINTS].mean(axis=0)
    shifts, errors, eyes, mouths = [], [], [], []
    for points in landmarks:
        homography = fit_homography(points[PLANE_POINTS], ref_plane)
        rectified = apply(homography, points)
        shifts.append(rectified[NOSE_POINTS].mean(axis=0) - ref_nose)
        errors.append(np.sqrt(np.mean(np.sum((rectified[PLANE_POINTS] - ref_plane) ** 2, 1))))
        eyes.append(
            (eye_aspect_ratio(rectified, RIGHT_EYE) + eye_aspect_ratio(rectified, LEFT_EYE)) / 2
        )
        mouths.append(mouth_aspect_ratio(rectified))
    return BurstGeometry(
        nose_shift=np.array(shifts),
        plane_error=np.array(errors),
        eye_opening=np.array(eyes),
        mouth_opening=np.array(mouths),
    )


DENSE_PAIRS = 2  # frames aligned to the first (see frames_to_align); each costs ~4 ms


@dataclass
class DenseParallax:
    """Per aligned frame (each against the first frame): what no plane explains, and how much
    the plane itself turned."""

    frames: list[int]  # which frames were aligned to frame 0
    nose: np.ndarray  # (k, 2): nose minus rest-of-face residual flow, eye-line axes, eye distances
    rms: np.ndarray  # (k,): RMS residual flow over the face, eye distances
    plane_turn: np.ndarray  # (k,): foreshortening of the face plane, singular-value ratio - 1


def crop_matrix(points: np.ndarray, box_width: float) -> np.ndarray:
    """3x3 affine: image pixels -> a DENSE_SIZE square centred on the face, one box wide."""
    centre = points[CENTRE_POINTS].mean(axis=0)
    scale = DENSE_SIZE / max(box_width, 1.0)
    return np.array(
        [
            [scale, 0, DENSE_SIZE / 2 - scale * centre[0]],
            [0, scale, DENSE_SIZE / 2 - scale * centre[1]],
            [0, 0, 1],
        ]
    )


def face_grid(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Sample points (in crop pixels) inside the inner-face oval, which of them are at the nose,
    and the inter-eye distance, all from the reference frame's landmarks in crop pixels."""
    right, left = eye_centres(points)
    iod = float(np.hypot(*(left - right)))
    centre = points[CENTRE_POINTS].mean(axis=0)
    ys, xs = np.mgrid[0:DENSE_SIZE:DENSE_STEP, 0:DENSE_SIZE:DENSE_STEP] + DENSE_STEP // 2
    inside = ((xs - centre[0]) / (0.9 * iod)) ** 2 + ((ys - centre[1]) / (1.2 * iod)) ** 2 < 1
    grid = np.stack([xs[inside], ys[inside]], axis=1).astype(np.float64)
    at_nose = np.hypot(*(grid - points[30]).T) < NOSE_RADIUS * iod
    return grid, at_nose, iod


def trimmed_homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least squares, then again on the TRIM_FRACTION best-fitting pairs (flow has outliers in
    flat, textureless skin)."""
    first = fit_homography(src, dst)
    error = np.hypot(*(apply(first, src) - dst).T)
    keep = error <= np.quantile(error, TRIM_FRACTION)
    return fit_homography(src[keep], dst[keep]) if keep.sum() >= 8 else first


def foreshortening(warp: np.ndarray, target: np.ndarray) -> float:
    """How unequally the homography stretches the two axes near `target` (where it maps to):
    0 for a plane seen as before (moved, scaled, rolled), about 1 - cos(angle) for one turned."""
    source = apply(np.linalg.inv(warp), target[None])[0]
    step = 0.5
    probes = source + np.array([[0, 0], [step, 0], [0, step]])
    mapped = apply(warp, probes)
    jacobian = np.stack([mapped[1] - mapped[0], mapped[2] - mapped[0]], axis=1) / step
    singular = np.linalg.svd(jacobian, compute_uv=False)
    return float(singular[0] / max(singular[1], 1e-9) - 1)


def frames_to_align(nose_shift: np.ndarray, count: int) -> list[int]:
    """The frames after the first to align to it: where the landmark nose went furthest to
    either side (a turn left or right, or a card tilted most), the last frame, then the others
    by how far their nose moved; in time order."""
    later = nose_shift[1:]
    if len(later) == 0:
        return []
    by_distance = np.argsort(-np.hypot(*later.T), kind="stable")
    order = [int(np.argmax(later[:, 0])), int(np.argmin(later[:, 0])), len(later) - 1]
    chosen: list[int] = []
    for index in [*order, *(int(i) for i in by_distance)]:
        if index not in chosen:
            chosen.append(index)
    return sorted(i + 1 for i in chosen[:count])


class DenseAligner:
    """DIS optical flow between each chosen frame's face and the first one's, after plane
    alignment."""

    def __init__(self, pairs: int = DENSE_PAIRS):
        self.pairs = pairs
        create = cv2.DISOpticalFlow_create  # type: ignore[attr-defined]  # not in cv2's stubs
        self._flow = create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)

    def parallax(
        self,
        greys: list[np.ndarray],
        landmarks: list[np.ndarray],
        box_width: float,
        nose_shift: np.ndarray,
    ) -> DenseParallax:
        crop = crop_matrix(landmarks[0], box_width)
        reference = cv2.warpPerspective(greys[0], crop, (DENSE_SIZE, DENSE_SIZE))
        ref_points = apply(crop, landmarks[0])
        grid, at_nose, iod = face_grid(ref_points)
        rotate = normalising_similarity(ref_points)[:2, :2] * iod  # crop px -> eye-line axes
        chosen = frames_to_align(nose_shift, self.pairs)
        noses, rmss, turns = [], [], []
        centre = np.array([DENSE_SIZE / 2, DENSE_SIZE / 2])
        for index in chosen:
            grey, points = greys[index], landmarks[index]
            warp = crop @ fit_homography(points[PLANE_POINTS], landmarks[0][PLANE_POINTS])
            for _ in range(DENSE_ITERATIONS):
                warped = cv2.warpPerspective(grey, warp, (DENSE_SIZE, DENSE_SIZE))
                flow = self._flow.calc(reference, warped, None)
                moved = grid + flow[grid[:, 1].astype(int), grid[:, 0].astype(int)]
                plane = trimmed_homography(grid, moved)
                warp = np.linalg.inv(plane) @ warp
            residual = (moved - apply(plane, grid)) / iod
            excess = residual[at_nose].mean(axis=0) - residual[~at_nose].mean(axis=0)
            noses.append(rotate @ excess)
            rmss.append(float(np.sqrt(np.mean(np.sum(residual**2, axis=1)))))
            turns.append(foreshortening(warp, centre))  # image i -> frame 0, scale-free
        return DenseParallax(chosen, np.array(noses), np.array(rmss), np.array(turns))

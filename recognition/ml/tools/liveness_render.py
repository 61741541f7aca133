"""Rendering presentation attacks: a still photo on a flat (or bent) card, a print or a screen,
moved in 3D in front of a pinhole camera, and the camera's own blur, noise and JPEG.

Everything random is drawn from a numpy Generator passed in, so a burst is a pure function of
its seed. Units: metres in the scene, pixels in images. The card's local frame has x to the
right of the photo, y down, z away from the camera; the camera looks along +z.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Camera:
    width: int
    height: int
    focal: float  # pixels

    @classmethod
    def with_field_of_view(cls, width: int, height: int, horizontal_fov_deg: float) -> Camera:
        focal = (width / 2) / np.tan(np.radians(horizontal_fov_deg) / 2)
        return cls(width, height, float(focal))


@dataclass(frozen=True)
class CardPose:
    yaw: float  # degrees about the card's vertical axis
    pitch: float  # degrees about its horizontal axis
    roll: float  # degrees in its own plane
    x: float  # metres, card centre in camera coordinates
    y: float
    z: float

    def rotation(self) -> np.ndarray:
        yaw, pitch, roll = np.radians([self.yaw, self.pitch, self.roll])
        ry = np.array([[np.cos(yaw), 0, np.sin(yaw)], [0, 1, 0], [-np.sin(yaw), 0, np.cos(yaw)]])
        rx = np.array(
            [[1, 0, 0], [0, np.cos(pitch), -np.sin(pitch)], [0, np.sin(pitch), np.cos(pitch)]]
        )
        rz = np.array(
            [[np.cos(roll), -np.sin(roll), 0], [np.sin(roll), np.cos(roll), 0], [0, 0, 1]]
        )
        return ry @ rx @ rz

    def blend(self, other: CardPose, t: float) -> CardPose:
        fields = ("yaw", "pitch", "roll", "x", "y", "z")
        return CardPose(*((1 - t) * getattr(self, f) + t * getattr(other, f) for f in fields))


@dataclass(frozen=True)
class Card:
    """A texture (BGR float32 in [0, 1]) on a card of `metres_per_texel`, optionally bent into a
    cylinder about its vertical axis (radius in metres; inf is flat). The card's centre is the
    texture's centre."""

    texture: np.ndarray
    metres_per_texel: float
    bend_radius: float = float("inf")


def render_card(
    card: Card, pose: CardPose, camera: Camera, background: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Ray-cast every camera pixel onto the card; returns (image float32 BGR, coverage mask)."""
    ys, xs = np.mgrid[0 : camera.height, 0 : camera.width].astype(np.float64)
    rays = np.stack(
        [
            (xs - camera.width / 2) / camera.focal,
            (ys - camera.height / 2) / camera.focal,
            np.ones_like(xs),
        ],
        axis=-1,
    )
    rotation = pose.rotation()
    origin = -rotation.T @ np.array([pose.x, pose.y, pose.z])  # camera centre in card coordinates
    direction = rays @ rotation  # each ray in card coordinates (R^T d, row-wise)
    u, v, hit = intersect_card(origin, direction, card.bend_radius)
    height, width = card.texture.shape[:2]
    map_x = (u / card.metres_per_texel + width / 2).astype(np.float32)
    map_y = (v / card.metres_per_texel + height / 2).astype(np.float32)
    inside = hit & (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    # Plain bilinear sampling, no prefilter: a screen's pixel grid aliases against the camera's
    # pixels and makes moire, as it does in a real camera.
    sampled = cv2.remap(
        card.texture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    mask = inside.astype(np.float32)[..., None]
    return sampled * mask + background * (1 - mask), inside


def intersect_card(
    origin: np.ndarray, direction: np.ndarray, bend_radius: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arc-length (u) and height (v) on the card where each ray meets it, and whether it does."""
    ox, oy, oz = origin
    dx, dy, dz = direction[..., 0], direction[..., 1], direction[..., 2]
    if not np.isfinite(bend_radius):
        lam = -oz / np.where(np.abs(dz) < 1e-9, 1e-9, dz)
        return ox + lam * dx, oy + lam * dy, lam > 0
    # Cylinder x^2 + (z - r)^2 = r^2: the card's centre line touches z = 0 and its sides bend
    # away from the camera (r > 0) or towards it (r < 0).
    r = bend_radius
    cz = oz - r
    a = dx**2 + dz**2
    b = 2 * (ox * dx + cz * dz)
    c = ox**2 + cz**2 - r**2
    disc = b**2 - 4 * a * c
    root = np.sqrt(np.maximum(disc, 0))
    near = (-b - root) / (2 * a)
    far = (-b + root) / (2 * a)
    # The sheet is the half of the cylinder nearest the z = 0 plane.
    lam = np.where(r > 0, near, far)
    x = ox + lam * dx
    z = oz + lam * dz
    angle = np.arctan2(x, np.sign(r) * (r - z))
    return np.abs(r) * angle, oy + lam * dy, (disc >= 0) & (lam > 0) & (np.abs(angle) < np.pi / 2)


def scene_background(rng: np.random.Generator, camera: Camera) -> np.ndarray:
    """A plain, dim wall with a soft gradient, like the dark backdrops of the genuine photos."""
    level = rng.uniform(0.05, 0.45)
    gx, gy = rng.uniform(-0.15, 0.15, size=2)
    ys, xs = np.mgrid[0 : camera.height, 0 : camera.width].astype(np.float32)
    plane = level + gx * (xs / camera.width - 0.5) + gy * (ys / camera.height - 0.5)
    tint = 1 + rng.uniform(-0.05, 0.05, size=3).astype(np.float32)
    noise = cv2.GaussianBlur(rng.normal(0, 0.03, plane.shape).astype(np.float32), (0, 0), 6)
    return np.clip((plane + noise)[..., None] * tint, 0, 1).astype(np.float32)


def framed(photo: np.ndarray, border_fraction: float, colour: float) -> np.ndarray:
    """The photo with a border (a print's white margin, a phone's black bezel) around it."""
    pad = int(round(border_fraction * max(photo.shape[:2])))
    return cv2.copyMakeBorder(photo, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(colour,) * 3)


def print_texture(rng: np.random.Generator, photo: np.ndarray) -> np.ndarray:
    """A photo printed on paper: compressed tone range, a warm paper tint, soft ink and grain."""
    white, black = rng.uniform(0.82, 0.95), rng.uniform(0.04, 0.14)
    toned: np.ndarray = black + (white - black) * photo
    toned = toned * np.array([0.96, 0.99, 1.0], np.float32) ** rng.uniform(0, 1)  # BGR: warm
    toned = cv2.GaussianBlur(toned, (0, 0), rng.uniform(0.4, 1.0))
    grain = rng.normal(0, rng.uniform(0.005, 0.02), toned.shape[:2]).astype(np.float32)
    return np.clip(toned + grain[..., None], 0, 1).astype(np.float32)


def screen_texture(rng: np.random.Generator, photo: np.ndarray, screen_px: int) -> np.ndarray:
    """A photo shown on an LCD/OLED of `screen_px` pixels across, drawn at 3 texels per screen
    pixel with its red, green and blue sub-pixel stripes and the dark gaps between pixels; with
    the display's white point, gamma and contrast."""
    height = int(round(screen_px * photo.shape[0] / photo.shape[1]))
    smaller = screen_px < photo.shape[1]
    shown = cv2.resize(
        photo, (screen_px, height), interpolation=cv2.INTER_AREA if smaller else cv2.INTER_CUBIC
    )
    gain = np.array([rng.uniform(1.0, 1.15), rng.uniform(0.95, 1.05), rng.uniform(0.85, 1.0)])
    shown = np.clip(np.clip(shown, 0, 1) ** rng.uniform(0.8, 1.25) * gain.astype(np.float32), 0, 1)
    texels = np.repeat(np.repeat(shown, 3, axis=0), 3, axis=1)
    stripes = np.zeros((3, 3, 3), np.float32)  # one screen pixel: B, G, R columns (BGR order)
    fill = rng.uniform(0.55, 0.9)  # the lit share of each sub-pixel; the rest is the black matrix
    for column, channel in enumerate((2, 1, 0)):  # R, G, B left to right
        stripes[:, column, channel] = 3.0
    stripes[2, :, :] *= 1 - fill  # the gap row between pixel rows
    mask = np.tile(stripes, (height, screen_px, 1))
    visibility = rng.uniform(0.1, 0.8)  # how much of the grid survives the screen's diffuser
    mixed = texels * (visibility * mask + (1 - visibility))
    return np.clip(mixed, 0, 1).astype(np.float32)


def add_glare(rng: np.random.Generator, texture: np.ndarray, strength: float) -> np.ndarray:
    """A reflection of a lamp or window: a broad elliptical highlight plus a raised black level."""
    height, width = texture.shape[:2]
    cy, cx = rng.uniform(0.15, 0.85) * height, rng.uniform(0.15, 0.85) * width
    sy, sx = rng.uniform(0.08, 0.35) * height, rng.uniform(0.08, 0.35) * width
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    blob = np.exp(-(((ys - cy) / sy) ** 2 + ((xs - cx) / sx) ** 2) / 2)
    veil = rng.uniform(0.02, 0.12)
    return np.clip(texture + veil + strength * blob[..., None], 0, 1).astype(np.float32)


def jpeg(image_u8: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", image_u8, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    decoded = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if decoded is None:
        raise RuntimeError("JPEG decoding failed")
    return decoded


def to_u8(image: np.ndarray) -> np.ndarray:
    return np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)


def camera_pipeline(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """What every frame goes through, genuine or not: lens blur, exposure, sensor noise and
    uint8 (JPEG is applied when the frame is written)."""
    blurred = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 0.8))
    exposed = blurred * rng.uniform(0.9, 1.1)
    noisy = exposed + rng.normal(0, rng.uniform(1.0, 3.0) / 255, image.shape).astype(np.float32)
    return to_u8(noisy)


def similarity_jitter(
    rng: np.random.Generator, image: np.ndarray, shift: float, scale: float, angle: float
) -> np.ndarray:
    """A small move of the head in the image plane (translation, scale, roll); edges replicate."""
    height, width = image.shape[:2]
    matrix = np.asarray(
        cv2.getRotationMatrix2D(
            (width / 2, height / 2), rng.uniform(-angle, angle), 1 + rng.uniform(-scale, scale)
        ),
        np.float64,
    )
    matrix[:, 2] += rng.uniform(-shift, shift, size=2) * (width, height)
    return cv2.warpAffine(image, matrix, (width, height), borderMode=cv2.BORDER_REPLICATE)

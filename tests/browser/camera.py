"""A fake camera for Chromium: a photo turned into a short looping video file.

Chromium plays the file named by --use-file-for-fake-video-capture as every camera; the file
is fixed for the browser's lifetime, so tests launch one browser per camera file (see the
`camera_browser` fixture).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT = 640, 480  # what the pages ask getUserMedia for
FRAMES = 5  # Chromium loops the file; a few identical frames keep the face still
FPS = 15


def letterbox(image: np.ndarray, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """The image scaled to fit width x height without distortion, centred on black."""
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(image, size, interpolation=interpolation)
    canvas = np.zeros((height, width, 3), np.uint8)
    top, left = (height - size[1]) // 2, (width - size[0]) // 2
    canvas[top : top + size[1], left : left + size[0]] = resized
    return canvas


def write_y4m(image: bytes, path: Path, frames: int = FRAMES) -> Path:
    """Write `image` (JPEG/PNG bytes) as a 640x480 4:2:0 Y4M video of `frames` frames."""
    decoded = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        raise ValueError("The camera image is not a decodable picture.")
    yuv = cv2.cvtColor(letterbox(decoded), cv2.COLOR_BGR2YUV_I420).tobytes()
    header = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{FPS}:1 Ip A1:1 C420jpeg\n".encode("ascii")
    with open(path, "wb") as fh:
        fh.write(header)
        for _ in range(frames):
            fh.write(b"FRAME\n")
            fh.write(yuv)
    return path


def write_y4m_sequence(frames: list[np.ndarray], path: Path, fps: int = FPS) -> Path:
    """Write BGR frames (any size: each is letterboxed) as a 640x480 Y4M video that Chromium
    loops at `fps`: a camera that shows motion (a head turning, a card moved by hand)."""
    header = f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii")
    with open(path, "wb") as fh:
        fh.write(header)
        for frame in frames:
            fh.write(b"FRAME\n")
            fh.write(cv2.cvtColor(letterbox(frame), cv2.COLOR_BGR2YUV_I420).tobytes())
    return path

"""Safe image decoding: bytes in, BGR uint8 array out, EXIF orientation applied."""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_BYTES = 15 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
# What cameras, phones and browsers produce (phones' MPO files open through the JPEG plugin).
# Every other Pillow plugin stays unused: exotic decoders are attack surface, and the EPS one
# would run Ghostscript.
FORMATS = ("JPEG", "PNG", "WEBP")


class ImageDecodeError(ValueError):
    """An upload that cannot become an image; `code` is stable for APIs, `message` is for people."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _open_checked(data: bytes, max_bytes: int, max_pixels: int) -> Image.Image:
    """The image with only its header parsed, once its bytes and pixel count are in limits."""
    if not data:
        raise ImageDecodeError("not_an_image", "The file is empty.")
    if len(data) > max_bytes:
        raise ImageDecodeError(
            "too_large", f"The file is {len(data)} bytes; the limit is {max_bytes} bytes."
        )
    try:
        # Image.open only parses the header, so the pixel count is known before any decoding:
        # this is what stops decompression bombs. Our own limit replaces Pillow's warning.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError:
        raise ImageDecodeError("too_many_pixels", "The image has far too many pixels.") from None
    except (UnidentifiedImageError, OSError):
        raise ImageDecodeError("not_an_image", "The file is not a readable image.") from None
    width, height = image.size
    if width * height > max_pixels:
        raise ImageDecodeError(
            "too_many_pixels", f"The image has {width}x{height} pixels; the limit is {max_pixels}."
        )
    if not _complete(data, image.format):
        raise ImageDecodeError("truncated", "The image data is incomplete (cut short).")
    return image


def _complete(data: bytes, image_format: str | None) -> bool:
    """Whether the file reaches its format's end marker: a structural check that finds uploads cut
    short without decoding a pixel (the web process never decodes)."""
    if image_format == "JPEG":
        start_of_scan = _jpeg_start_of_scan(data)
        return start_of_scan is not None and data.find(b"\xff\xd9", start_of_scan) != -1
    if image_format == "PNG":
        return data.rfind(b"IEND") != -1
    if image_format == "WEBP":
        declared = int.from_bytes(data[4:8], "little") + 8
        return len(data) >= declared
    return True


def _jpeg_start_of_scan(data: bytes) -> int | None:
    """Offset of the first start-of-scan marker, walking the segment headers (an EXIF thumbnail
    inside APP1 carries its own end marker, so a plain search could be fooled)."""
    position = 2  # after SOI
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker == 0xDA:
            return position
        position += 2 + int.from_bytes(data[position + 2 : position + 4], "big")
    return None


def image_size_check(
    data: bytes,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[int, int]:
    """(width, height) from the header alone, or ImageDecodeError: the check to run before
    handing bytes to any other decoder (OpenCV's own limit is a billion pixels)."""
    return _open_checked(data, max_bytes, max_pixels).size


def decode_image(
    data: bytes,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    reduce_to_side: int | None = None,
) -> np.ndarray:
    """Decode JPEG/PNG/WebP bytes to a BGR uint8 array, upright according to EXIF.

    `reduce_to_side`: a larger JPEG is decoded at the smallest DCT scale (1/2, 1/4 or 1/8)
    whose longer side still has at least this many pixels (JPEG decoders scale while they
    decode, nearly for free): a 12 MP phone selfie took 138 ms to decode in full, 18 ms at half
    size, of which the detector looks at 640 pixels anyway. Other formats decode in full.
    """
    image = _open_checked(data, max_bytes, max_pixels)
    if reduce_to_side and image.format in ("JPEG", "MPO"):
        _reduce_while_decoding(image, reduce_to_side)
    try:
        image.load()
        image = ImageOps.exif_transpose(image)
        rgb = np.asarray(image.convert("RGB"))
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageDecodeError(
            "truncated", f"The image data is incomplete or corrupt ({exc})."
        ) from None
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def _reduce_while_decoding(image: Image.Image, side: int) -> None:
    width, height = image.size
    factor = side / max(width, height)
    if factor < 1:
        # draft picks the largest reduction whose size is at least the one asked for.
        image.draft("RGB", (math.ceil(width * factor), math.ceil(height * factor)))


def read_image_file(
    path: str | Path,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Read and decode an image file: OSError for unreadable paths, ImageDecodeError for bad
    data."""
    return decode_image(Path(path).read_bytes(), max_bytes=max_bytes, max_pixels=max_pixels)


def fit_longest_side(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Downscale so the longer side is at most max_side; returns (image, scale applied)."""
    height, width = image.shape[:2]
    longest = max(height, width)
    if longest <= max_side:
        return image, 1.0
    scale = max_side / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale

import io

import numpy as np
import pytest
from PIL import Image

from recognition.ml.runtime.imageio import ImageDecodeError, decode_image, fit_longest_side


def jpeg_bytes(array_rgb: np.ndarray, exif=None) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(array_rgb)
    image.save(buffer, format="JPEG", exif=exif) if exif else image.save(buffer, format="JPEG")
    return buffer.getvalue()


def test_decoding_returns_bgr_uint8():
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0] = 255  # pure red
    image = decode_image(jpeg_bytes(rgb))
    assert image.shape == (20, 30, 3) and image.dtype == np.uint8
    assert image[10, 15, 2] > 200 and image[10, 15, 0] < 50


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise for display
    image = decode_image(jpeg_bytes(np.zeros((20, 30, 3), np.uint8), exif=exif))
    assert image.shape[:2] == (30, 20)


@pytest.mark.parametrize(
    "data, code",
    [
        (b"", "not_an_image"),
        (b"hello, this is text", "not_an_image"),
    ],
)
def test_garbage_is_refused_with_a_code(data, code):
    with pytest.raises(ImageDecodeError) as caught:
        decode_image(data)
    assert caught.value.code == code


def test_truncated_jpeg_is_refused():
    data = jpeg_bytes(np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8))
    with pytest.raises(ImageDecodeError) as caught:
        decode_image(data[: len(data) // 2])
    assert caught.value.code == "truncated"


def test_oversized_files_and_pixel_bombs_are_refused_before_decoding():
    data = jpeg_bytes(np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(ImageDecodeError) as caught:
        decode_image(data, max_bytes=10)
    assert caught.value.code == "too_large"
    with pytest.raises(ImageDecodeError) as caught:
        decode_image(data, max_pixels=100 * 99)
    assert caught.value.code == "too_many_pixels"


def test_fit_longest_side_only_ever_shrinks():
    image = np.zeros((400, 1000, 3), np.uint8)
    small, scale = fit_longest_side(image, 500)
    assert small.shape[:2] == (200, 500) and scale == 0.5
    same, scale = fit_longest_side(small, 800)
    assert same is small and scale == 1.0


def test_a_large_jpeg_is_decoded_reduced_keeping_its_proportions_and_the_side_asked_for():
    rng = np.random.default_rng(0)
    large = rng.integers(0, 255, (3000, 4000, 3), dtype=np.uint8)
    reduced = decode_image(jpeg_bytes(large), max_pixels=20_000_000, reduce_to_side=1280)
    assert reduced.shape == (1500, 2000, 3)  # half: a quarter would be 1000 < 1280
    assert decode_image(jpeg_bytes(large), max_pixels=20_000_000, reduce_to_side=500).shape == (
        375,
        500,
        3,
    )  # an eighth
    small = rng.integers(0, 255, (300, 400, 3), dtype=np.uint8)
    assert decode_image(jpeg_bytes(small), reduce_to_side=1280).shape == (300, 400, 3)


def test_a_large_png_is_decoded_in_full_whatever_size_is_asked_for():
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((1200, 1600, 3), np.uint8)).save(buffer, format="PNG")
    assert decode_image(buffer.getvalue(), reduce_to_side=640).shape == (1200, 1600, 3)

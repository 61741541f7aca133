"""Hostile uploads and bodies at every door (API, gate page, registration page): byte and pixel
limits, decompression bombs refused from the header, non-images, truncated files, exotic
formats, EXIF orientation, oversized and deeply nested bodies. Never a 500."""

import io
import json
import random
import struct
import time
import zlib
from unittest.mock import patch

import cv2
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image, ImageFile
from rest_framework.test import APIClient

from api.services import api_key_create
from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.registration_links import registration_path
from enrollment.workflow import enrollment_process
from recognition.inference import embed_largest_face
from recognition.ml.runtime.imageio import ImageDecodeError, decode_image, image_size_check
from recognition.models import FaceEmbedding
from tests.api.conftest import api_client, assert_error, b64
from tests.faces import consenting_holder, stored_photo, val_photo
from tests.test_rate_limits import clear_rate_limits

JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture(autouse=True)
def _fresh_counters():
    clear_rate_limits()


# --- hostile files ----------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png_bomb(width: int, height: int, rows: int | None = None) -> bytes:
    """A grey PNG of width x height whose pixel data (all zeros) compresses ~1000:1; `rows`
    limits the data actually present (the header still declares every row)."""
    compressor = zlib.compressobj(9)
    row = b"\0" * (width + 1)  # filter byte + pixels
    parts = [compressor.compress(row * min(256, height)) for _ in range(0, rows or height, 256)]
    idat = b"".join(parts) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) claims width x height."""
    data = bytearray(cv2.imencode(".jpg", np.full((16, 16, 3), 90, np.uint8))[1].tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def tiff_photo() -> bytes:
    buffer = io.BytesIO()
    Image.open(io.BytesIO(val_photo(6, 0))).save(buffer, "TIFF")
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    data = val_photo(6, 0)
    return data[: len(data) // 2]


BOMBS = {
    # 100 million pixels, the whole (valid) image in ~100 KB: past our limit, under Pillow's.
    "png-10000x10000": png_bomb(10_000, 10_000),
    # 900 million pixels declared: past Pillow's own bomb limit too.
    "png-30000x30000": png_bomb(30_000, 30_000, rows=512),
    "jpeg-65000x65000": jpeg_declaring(65_000, 65_000),
    "jpeg-7000x7000": jpeg_declaring(7_000, 7_000),
}


@pytest.fixture
def no_decoding():
    """Fails the test if any decoder runs: bombs must be refused from the header."""
    boom = AssertionError("an image was decoded")
    with (
        patch.object(ImageFile.ImageFile, "load", side_effect=boom),
        patch.object(Image.Image, "load", side_effect=boom),
        patch("cv2.imdecode", side_effect=boom),
    ):
        yield


def test_the_bombs_are_small_files():
    assert all(len(data) < 200_000 for data in BOMBS.values())


@pytest.mark.parametrize("name", list(BOMBS))
def test_imageio_refuses_decompression_bombs_from_the_header(name, no_decoding):
    started = time.monotonic()
    with pytest.raises(ImageDecodeError) as caught:
        decode_image(BOMBS[name], max_pixels=40_000_000)
    assert caught.value.code == "too_many_pixels"
    with pytest.raises(ImageDecodeError):
        image_size_check(BOMBS[name], max_pixels=40_000_000)
    assert time.monotonic() - started < 0.5


@pytest.mark.parametrize(
    "data, code",
    [
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "not_an_image"),
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "not_an_image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not_an_image"),
        (b"\0" * 5000, "not_an_image"),
    ],
    ids=["eps", "gif", "svg", "zeros"],
)
def test_imageio_refuses_formats_other_than_jpeg_png_webp(data, code):
    with pytest.raises(ImageDecodeError) as caught:
        decode_image(data)
    assert caught.value.code == code
    with pytest.raises(ImageDecodeError):
        decode_image(tiff_photo())


def test_imageio_honours_exif_orientation_exactly():
    upright = cv2.imdecode(np.frombuffer(val_photo(6, 0), np.uint8), cv2.IMREAD_COLOR)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned left; to be shown rotated 90 degrees clockwise
    stored = Image.fromarray(cv2.cvtColor(np.rot90(upright), cv2.COLOR_BGR2RGB))
    buffer = io.BytesIO()
    stored.save(buffer, "PNG", exif=exif)
    assert np.array_equal(decode_image(buffer.getvalue()), upright)


def test_mutated_images_raise_nothing_but_image_decode_errors():
    """Random byte flips and cuts of a JPEG, a PNG and a WebP: a decode either works or
    fails with a code the API maps to a 4xx."""
    rng = random.Random(7)
    photo = Image.open(io.BytesIO(val_photo(6, 0)))
    bases = [val_photo(6, 0)]
    for fmt in ("PNG", "WEBP"):
        buffer = io.BytesIO()
        photo.save(buffer, fmt)
        bases.append(buffer.getvalue())
    for base in bases:
        for _ in range(80):
            data = bytearray(base)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(min(len(data), 800))] = rng.randrange(256)
            if rng.random() < 0.3:
                data = data[: rng.randrange(1, len(data))]
            try:
                decode_image(bytes(data))
            except ImageDecodeError as exc:
                assert exc.code in {"not_an_image", "truncated", "too_many_pixels"}


# --- the API ----------------------------------------------------------------------------


@pytest.fixture
def api(org_a):
    return api_client(org_a)


@pytest.fixture
def api_holder(event_a):
    return consenting_holder(event_a, "HX-1", "Hostile Holder")


def _photos_url(holder):
    return f"/api/v1/events/{holder.event_id}/holders/{holder.pk}/photos/"


def _api_upload(api, holder, data, name="x.jpg"):
    upload = SimpleUploadedFile(name, data, content_type="image/jpeg")
    return api.post(_photos_url(holder), {"image": upload}, format="multipart")


@pytest.mark.parametrize("name", list(BOMBS))
def test_the_api_answers_413_to_bombs_without_decoding_them(api, api_holder, name, no_decoding):
    assert_error(_api_upload(api, api_holder, BOMBS[name]), 413, "too_many_pixels")
    as_json = api.post(_photos_url(api_holder), {"image_base64": b64(BOMBS[name])}, format="json")
    assert_error(as_json, 413, "too_many_pixels")
    assert not EnrollmentPhoto.objects.exists()


def test_the_api_refuses_formats_it_does_not_accept(api, api_holder):
    assert_error(_api_upload(api, api_holder, tiff_photo(), "x.tif"), 400, "not_an_image")
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    assert_error(_api_upload(api, api_holder, eps, "x.eps"), 400, "not_an_image")


def test_the_face_endpoints_refuse_bombs_before_any_worker_is_asked(api, event_a, no_decoding):
    for url in (f"/api/v1/events/{event_a.pk}/identify/", f"/api/v1/events/{event_a.pk}/verify/"):
        body = {"image_base64": b64(BOMBS["png-30000x30000"]), "ticket_code": "HX-1"}
        assert_error(api.post(url, body, format="json"), 413, "too_many_pixels")
    gate = event_a.gates.get(name="Face lane")
    body = {"gate": gate.pk, "image_base64": b64(BOMBS["jpeg-65000x65000"])}
    assert_error(api.post("/api/v1/checkins/", body, format="json"), 413, "too_many_pixels")
    assert not gate.checkins.exists()


def test_a_request_over_the_body_limit_is_refused_unread_with_413_json(api, api_holder, settings):
    settings.FACEPASS_REQUEST_MAX_BYTES = 1024 * 1024
    big = b"\xff\xd8" + b"\0" * (1024 * 1024 + 10)
    assert_error(_api_upload(api, api_holder, big), 413, "too_large")
    as_json = api.post(_photos_url(api_holder), {"image_base64": b64(big)}, format="json")
    assert_error(as_json, 413, "too_large")
    assert not EnrollmentPhoto.objects.exists()


def test_deeply_nested_json_is_a_400_not_a_500(api, event_a):
    nested = "[" * 100_000 + "]" * 100_000
    for url in ("/api/v1/events/", f"/api/v1/events/{event_a.pk}/holders/bulk/"):
        response = api.post(url, nested, content_type="application/json")
        assert_error(response, 400, "parse_error")


@pytest.mark.parametrize(
    "body",
    ['{"name": 1e999999}', '{"name": "\\ud800"}', '{"page_size": ' + "9" * 5000 + "}", "\xff"],
    ids=["huge-float", "lone-surrogate", "5000-digit-int", "not-utf8"],
)
def test_odd_json_is_refused_with_a_4xx(api, body):
    response = api.post(
        "/api/v1/events/", body.encode("utf-8", "surrogatepass"), content_type="application/json"
    )
    assert 400 <= response.status_code < 500, response.content[:300]
    assert response.json()["code"]


# --- the gate page ----------------------------------------------------------------------


@pytest.fixture
def gate_client(client, organizer_a):
    client.force_login(organizer_a)
    return client


def _gate_check(client, gate, frames, **fields):
    files = [
        SimpleUploadedFile(f"f{i}.jpg", f, content_type="image/jpeg") for i, f in enumerate(frames)
    ]
    return client.post(reverse("gate-check", args=[gate.pk]), {"frames": files, **fields})


def test_the_gate_page_never_hands_a_pixel_bomb_to_opencv_for_the_qr_code(
    gate_client, event_a, no_decoding
):
    gate = event_a.gates.get(name="North")  # ticket + face: reads QR codes when no code typed
    for name in BOMBS:
        response = _gate_check(gate_client, gate, [BOMBS[name]])
        assert response.status_code == 400 and response.json()["code"] == "no_ticket"


def test_the_gate_worker_pipeline_refuses_bombs_non_images_and_truncated_frames(default_model):
    assert embed_largest_face(default_model, BOMBS["png-10000x10000"]).verdict.code == (
        "too_many_pixels"
    )
    assert embed_largest_face(default_model, b"not a frame").verdict.code == "not_an_image"
    assert embed_largest_face(default_model, truncated_jpeg()).verdict.code == "truncated"


def test_gate_frames_over_the_byte_limit_are_a_413(gate_client, event_a, settings):
    settings.FACEPASS_UPLOAD_MAX_BYTES = 50_000
    gate = event_a.gates.get(name="Face lane")
    response = _gate_check(gate_client, gate, [val_photo(6, 0) + b"\0" * 60_000])
    assert response.status_code == 413 and response.json()["code"] == "too_large"


def test_huge_fields_and_bodies_at_the_gate_are_413_json(gate_client, event_a, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
    settings.FACEPASS_REQUEST_MAX_BYTES = 1024 * 1024
    gate = event_a.gates.get(name="North")
    huge_field = _gate_check(gate_client, gate, [val_photo(6, 0)], ticket_code="x" * 300_000)
    assert huge_field.status_code == 413 and huge_field.json()["code"] == "too_large"
    huge_body = _gate_check(gate_client, gate, [b"\xff\xd8" + b"\0" * 1_100_000])
    assert huge_body.status_code == 413 and huge_body.json()["code"] == "too_large"
    as_json = gate_client.post(
        reverse("gate-check", args=[gate.pk]),
        '{"frames": "' + "A" * 2_000_000 + '"}',
        content_type="application/json",
    )
    assert as_json.status_code == 413 and as_json.json()["code"] == "too_large"
    assert not gate.checkins.exists()


# --- the registration page --------------------------------------------------------------


@pytest.fixture
def reg_holder(event_a):
    return consenting_holder(event_a, "RX-1", "Reg Hostile")


def _reg_upload(client, holder, data, name="selfie.jpg", **headers):
    token = registration_path(holder).rstrip("/").rsplit("/", 1)[-1]
    url = reverse("attendees:photo-upload", kwargs={"token": token})
    photo = SimpleUploadedFile(name, data, content_type="image/jpeg")
    return client.post(url, {"photo": photo}, **headers)


@pytest.mark.parametrize("name", list(BOMBS))
def test_the_registration_page_refuses_bombs_without_decoding(
    client, reg_holder, name, no_decoding
):
    response = _reg_upload(client, reg_holder, BOMBS[name], **JSON)
    assert response.status_code == 400
    assert "too many pixels" in response.json()["message"]
    assert not EnrollmentPhoto.objects.exists()


@pytest.mark.parametrize(
    "data, words",
    [
        (b"MZ\x90\x00 this is an executable", "not a photo we can read"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "not a photo we can read"),
        (b"", "empty"),
    ],
    ids=["exe", "eps", "empty"],
)
def test_the_registration_page_refuses_non_images_in_plain_words(client, reg_holder, data, words):
    page = _reg_upload(client, reg_holder, data)
    assert page.status_code == 400 and words in page.content.decode()
    as_json = _reg_upload(client, reg_holder, data, **JSON)
    assert as_json.status_code == 400 and words in as_json.json()["message"]
    tiff = _reg_upload(client, reg_holder, tiff_photo(), "selfie.tif", **JSON)
    assert tiff.status_code == 400
    assert not EnrollmentPhoto.objects.exists()


def test_a_photo_over_the_byte_limit_is_refused_at_the_registration_page(
    client, reg_holder, settings
):
    settings.FACEPASS_UPLOAD_MAX_BYTES = 50_000
    response = _reg_upload(client, reg_holder, val_photo(6, 0) + b"\0" * 60_000, **JSON)
    assert response.status_code == 400 and "larger than" in response.json()["message"]
    assert not EnrollmentPhoto.objects.exists()


def test_huge_bodies_at_the_registration_page_are_413(client, reg_holder, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
    settings.FACEPASS_REQUEST_MAX_BYTES = 1024 * 1024
    token = registration_path(reg_holder).rstrip("/").rsplit("/", 1)[-1]
    url = reverse("attendees:photo-upload", kwargs={"token": token})
    photo = SimpleUploadedFile("s.jpg", val_photo(6, 0), content_type="image/jpeg")
    huge_field = client.post(url, {"photo": photo, "note": "x" * 300_000}, **JSON)
    assert huge_field.status_code == 413 and huge_field.json()["code"] == "too_large"
    huge_body = _reg_upload(client, reg_holder, b"\xff\xd8" + b"\0" * 1_100_000, **JSON)
    assert huge_body.status_code == 413 and huge_body.json()["code"] == "too_large"
    as_page = _reg_upload(client, reg_holder, b"\xff\xd8" + b"\0" * 1_100_000)
    assert as_page.status_code == 413
    lookup = client.post("/register/", {"ticket_code": "x" * 300_000, "email": "a@b.org"})
    assert lookup.status_code == 413
    assert not EnrollmentPhoto.objects.exists()


def test_a_truncated_selfie_is_refused_at_upload_and_one_already_stored_is_rejected_as_truncated(
    client, reg_holder, default_model
):
    # One upload check for every channel (common.images): a file cut short is found from its
    # structure at the door, as the API always did, without decoding a pixel.
    response = _reg_upload(client, reg_holder, truncated_jpeg(), **JSON)
    assert response.status_code == 400 and "incomplete" in response.json()["message"]
    assert not EnrollmentPhoto.objects.exists()
    photo = stored_photo(reg_holder, truncated_jpeg())
    enrollment_process(photo_ids=[photo.pk])
    photo.refresh_from_db()
    assert (photo.status, photo.rejection_code) == ("rejected", "truncated")
    assert photo.rejection_message


def test_a_selfie_stored_sideways_with_exif_orientation_6_is_enrolled_upright(
    event_a, default_model
):
    upright = Image.open(io.BytesIO(val_photo(6, 0)))
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways = io.BytesIO()
    upright.transpose(Image.Transpose.ROTATE_90).save(sideways, "JPEG", quality=95, exif=exif)
    reference = consenting_holder(event_a, "EX-0", "Reference")
    rotated = consenting_holder(event_a, "EX-6", "Rotated")
    photos = [stored_photo(reference, val_photo(6, 0)), stored_photo(rotated, sideways.getvalue())]
    enrollment_process(photo_ids=[p.pk for p in photos])
    for photo in photos:
        photo.refresh_from_db()
        assert photo.status == "accepted", (photo.rejection_code, photo.rejection_message)
    a, b = (np.asarray(FaceEmbedding.objects.get(photo=p).vector, dtype=np.float64) for p in photos)
    similarity = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    assert similarity > 0.97, similarity


def test_strings_postgres_cannot_store_are_a_400_not_a_500(api, event_a):
    bulk = f"/api/v1/events/{event_a.pk}/holders/bulk/"
    bodies = [
        (bulk, [{"ticket_code": "N-1", "name": "a\u0000b"}]),
        (bulk, [{"ticket_code": "\ud800", "name": "Lone Surrogate"}]),
        (f"/api/v1/events/{event_a.pk}/holders/", {"ticket_code": "S-1", "name": "\udc00"}),
        ("/api/v1/events/", {"\ud800": 1}),
    ]
    for url, body in bodies:
        response = api.post(url, json.dumps(body), content_type="application/json")
        assert_error(response, 400, "parse_error")
    assert not TicketHolder.objects.filter(event=event_a).exists()


def test_api_urls_that_match_nothing_are_a_json_404_whatever_the_method_or_characters(
    org_a, event_a
):
    _, plaintext = api_key_create(organization=org_a, name="strict")
    strict = APIClient(enforce_csrf_checks=True)
    strict.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert_error(strict.post("/api/v1/nothing/", {}, format="json"), 404, "not_found")
    assert_error(strict.patch("/api/v1/events/x%0Ay/", {}, format="json"), 404, "not_found")
    assert_error(strict.get("/api/v1/photos/%C2%9D%0Ag/"), 404, "not_found")
    for action in ("verify", "identify"):  # DRF's OPTIONS metadata describes the POST body
        options = strict.options(f"/api/v1/events/{event_a.pk}/{action}/")
        assert options.status_code == 200 and "image" in options.json()["actions"]["POST"]

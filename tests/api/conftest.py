"""Shared by the photo, face and check-in API tests: keys of two organizations, images."""

import base64
import time

import cv2
import numpy as np
import pytest
from rest_framework.test import APIClient

from api.services import api_key_create
from tests.faces import val_photo


def api_client(org) -> APIClient:
    _, plaintext = api_key_create(organization=org, name=f"shop {org.slug}")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client


@pytest.fixture
def api_a(org_a):
    return api_client(org_a)


@pytest.fixture
def api_b(org_b):
    return api_client(org_b)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def two_faces() -> bytes:
    """Two different people side by side, faces of about the same size."""
    left = cv2.imdecode(np.frombuffer(val_photo(6, 0), np.uint8), cv2.IMREAD_COLOR)
    right = cv2.imdecode(np.frombuffer(val_photo(8, 0), np.uint8), cv2.IMREAD_COLOR)
    right = cv2.resize(right, (right.shape[1] * left.shape[0] // right.shape[0], left.shape[0]))
    return cv2.imencode(".jpg", cv2.hconcat([left, right]))[1].tobytes()


def truncated_jpeg() -> bytes:
    data = val_photo(6, 0)
    return data[: len(data) // 2]


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code, body
    assert body["message"]
    return body


def poll(fetch, done, timeout: float = 90.0, interval: float = 0.3):
    """Call fetch() until done(result) or the timeout; returns the last result."""
    deadline = time.monotonic() + timeout
    result = fetch()
    while not done(result) and time.monotonic() < deadline:
        time.sleep(interval)
        result = fetch()
    return result

"""Photos and enrolled holders shared by the enrollment and gate tests."""

import os
from pathlib import Path

import cv2
import numpy as np

from attendees.models import EnrollmentPhoto
from attendees.services import ticket_holder_create, ticket_holder_record_consent

VAL = Path(os.environ.get("FACEPASS_SHARED_DIR", "../shared")) / "datasets/celeba-dev/val"


# Validation identity 6: its first two photos match at cosine 0.98 under dlib-resnet, well
# above the FAR 1e-3 threshold (0.930); identity 8 is a stranger to it. Many genuine pairs
# sit near the threshold (TAR 0.785 at FAR 1e-3), so tests that need a match use identity 6.
SAME_PERSON_IDENTITY = 6


def val_photo(identity_index: int, image_index: int = 0) -> bytes:
    identity = sorted(VAL.iterdir())[identity_index]
    return sorted(identity.glob("*.jpg"))[image_index].read_bytes()


def blank_jpeg() -> bytes:
    return cv2.imencode(".jpg", np.full((240, 320, 3), 128, np.uint8))[1].tobytes()


def consenting_holder(event, code, name="Holder"):
    holder = ticket_holder_create(event=event, ticket_code=code, name=name)
    return ticket_holder_record_consent(holder=holder, text_version="2026-11")


def stored_photo(holder, image: bytes) -> EnrollmentPhoto:
    """A photo row and file without queuing a task (the test runs the batch itself)."""
    from django.core.files.base import ContentFile

    photo = EnrollmentPhoto(holder=holder)
    photo.image.save("selfie.jpg", ContentFile(image), save=False)
    photo.save()
    return photo

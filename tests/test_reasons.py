"""The one vocabulary of reasons: every code has a message and a status, and every place that
stores or sends a code uses it."""

import pytest
from django.core.exceptions import ValidationError

from common.reasons import INFO, Reason, ReasonError, reason_text
from events.models import CheckIn
from recognition.ml.runtime.artifacts import EMBEDDER_KINDS
from recognition.models import EmbeddingModel


def test_every_reason_has_a_message_and_an_http_status():
    assert set(INFO) == set(Reason)
    for reason, info in INFO.items():
        assert str(info.message), reason
        assert 200 <= info.status < 600, reason


def test_messages_fill_in_the_deployment_limits(settings):
    settings.FACEPASS_UPLOAD_MAX_BYTES = 5 * 1_048_576
    assert reason_text("too_large") == "The image is larger than the limit of 5 MB."
    error = ReasonError(Reason.TOO_MANY_PHOTOS)
    assert (error.status, error.code) == (409, "too_many_photos")
    assert str(settings.FACEPASS_MAX_PHOTOS_PER_HOLDER) in error.message


def test_the_attendee_gets_advice_where_there_is_some_and_the_message_otherwise():
    assert reason_text("no_face", advice=True).startswith("We could not find a face")
    assert reason_text("event_closed", advice=True) == (
        "This event is over; registration is closed."
    )
    assert reason_text("face_mismatch", advice=True) == reason_text("face_mismatch")


def test_a_stored_reason_must_be_a_code_of_the_vocabulary():
    field = CheckIn._meta.get_field("reason")
    field.clean("face_mismatch", None)
    field.clean("", None)
    with pytest.raises(ValidationError):
        field.clean("made_up", None)


def test_the_model_registry_knows_exactly_the_kinds_the_face_core_can_load():
    assert set(EmbeddingModel.Kind.values) == set(EMBEDDER_KINDS)

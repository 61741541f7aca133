from datetime import timedelta

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from pgvector.django import CosineDistance

from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.services import ticket_holder_create, ticket_holder_record_consent
from recognition.models import EmbeddingModel, FaceEmbedding
from tests.conftest import make_event

pytestmark = pytest.mark.django_db


def unit(vec):
    vec = np.asarray(vec, dtype=np.float32)
    return vec / np.linalg.norm(vec)


def test_an_event_cannot_end_before_it_starts(org_a):
    with pytest.raises(ValidationError):
        make_event(org_a, "Backwards", ends_at=make_event(org_a, "Ok").starts_at - timedelta(1))


def test_a_ticket_code_is_unique_within_an_event_but_not_across_events(org_a):
    first, second = make_event(org_a, "First"), make_event(org_a, "Second")
    ticket_holder_create(event=first, ticket_code="T-1", name="Ann")
    ticket_holder_create(event=second, ticket_code="T-1", name="Ann")
    with pytest.raises(ValidationError):
        ticket_holder_create(event=first, ticket_code="T-1", name="Someone else")


def test_the_security_level_maps_to_a_false_accept_target(event_a):
    assert event_a.target_far == "1e-3"
    event_a.security_level = "high"
    assert event_a.target_far == "1e-4"


def test_recording_consent_stores_time_and_text_version(event_a):
    holder = ticket_holder_create(event=event_a, ticket_code="C-1", name="Cy")
    ticket_holder_record_consent(holder=holder, text_version="2026-11")
    holder.refresh_from_db()
    assert holder.consent_at is not None
    assert holder.consent_text_version == "2026-11"
    assert holder.status == TicketHolder.Status.CONSENTED


def test_only_one_embedding_model_can_be_active(db):
    EmbeddingModel.objects.create(name="a", version="1", kind="dlib-resnet", is_active=True)
    with pytest.raises(IntegrityError), transaction.atomic():
        EmbeddingModel.objects.create(name="b", version="1", kind="dlib-resnet", is_active=True)


def _embedding(holder, model, vector):
    photo = EnrollmentPhoto.objects.create(holder=holder, image="enrollment/x.jpg")
    return FaceEmbedding.objects.create(
        photo=photo, model=model, event=holder.event, holder=holder, vector=unit(vector)
    )


def test_embeddings_are_searched_by_cosine_distance_within_one_event_and_model(org_a):
    event, other_event = make_event(org_a, "One"), make_event(org_a, "Two")
    model = EmbeddingModel.objects.create(name="m", version="1", kind="dlib-resnet")
    other_model = EmbeddingModel.objects.create(name="m", version="2", kind="dlib-resnet")
    near = ticket_holder_create(event=event, ticket_code="N", name="Near")
    far = ticket_holder_create(event=event, ticket_code="F", name="Far")
    outsider = ticket_holder_create(event=other_event, ticket_code="O", name="Outsider")
    rng = np.random.default_rng(0)
    probe = rng.normal(size=128)
    _embedding(near, model, probe + 0.1 * rng.normal(size=128))
    _embedding(far, model, rng.normal(size=128))
    _embedding(outsider, model, probe)
    _embedding(far, other_model, probe)
    hits = list(
        FaceEmbedding.objects.filter(event=event, model=model)
        .annotate(distance=CosineDistance("vector", unit(probe)))
        .order_by("distance")
        .values_list("holder__name", flat=True)
    )
    assert hits == ["Near", "Far"]


def test_one_embedding_per_photo_and_model(event_a):
    model = EmbeddingModel.objects.create(name="m", version="1", kind="dlib-resnet")
    holder = ticket_holder_create(event=event_a, ticket_code="D", name="Dee")
    emb = _embedding(holder, model, np.ones(128))
    with pytest.raises(IntegrityError), transaction.atomic():
        FaceEmbedding.objects.create(
            photo=emb.photo, model=model, event=event_a, holder=holder, vector=unit(np.ones(128))
        )


def test_migrations_create_per_event_btrees_and_no_table_wide_vector_index(db):
    # A table-wide HNSW index filtered by event afterwards returns too few rows; large events
    # get their own partial HNSW index instead (tests/test_search_index.py).
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes "
            "WHERE tablename = 'recognition_faceembedding'"
        )
        indexes = dict(cursor.fetchall())
    assert not [name for name, definition in indexes.items() if "hnsw" in definition]
    assert "(model_id, event_id)" in indexes["embedding_model_event"]

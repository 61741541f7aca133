"""Face-only galleries held in memory (recognition.gallery): exact, and fresh to the last commit.

The tests run outside a transaction (django_db(transaction=True)): inside one, the search goes
to PostgreSQL by design, and writes publish their changes only when they commit.
"""

import numpy as np
import pytest
from django.db import transaction
from django.utils import timezone

from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.services import enrollment_photo_delete
from checkins.gate import scored_candidates
from common import gallery_feed
from common.workers import redis_client
from recognition.gallery import GALLERIES, gallery_search
from recognition.models import FaceEmbedding
from recognition.selectors import gate_nearest_holders, nearest_holders
from recognition.services import face_embedding_store, face_embeddings_store
from tests.conftest import make_event
from tests.test_search_index import enroll_vectors, unit_vectors

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_copies_left_over():
    GALLERIES.clear()
    yield
    GALLERIES.clear()


def new_holder(event, code):
    holder = TicketHolder.objects.create(
        event=event, ticket_code=code, name=f"Holder {code}", consent_at=timezone.now()
    )
    return holder, EnrollmentPhoto.objects.create(holder=holder, status="accepted")


def unpublished_face(event, model, vector, code):
    """A face committed by a path that does not publish it (as a bulk load by COPY would)."""
    holder, photo = new_holder(event, code)
    FaceEmbedding.objects.create(
        photo=photo, model=model, event=event, holder=holder, vector=vector
    )
    return holder


def top_holder(event, model, vector):
    found = gallery_search(event_id=event.pk, model_id=model.pk, probes=vector, limit=1)
    assert found is not None, "the search went to PostgreSQL, not to the copy in memory"
    return found[0][0][0] if found[0] else None


def test_the_copy_in_memory_finds_the_holders_and_similarities_exact_search_finds(
    org_a, default_model
):
    event = make_event(org_a)
    holders = enroll_vectors(event, default_model, unit_vectors(300, 1))
    # Some holders with a second photo: each holder comes back once, by their best photo.
    for holder, vector in zip(holders[:40], unit_vectors(40, 2), strict=True):
        photo = EnrollmentPhoto.objects.create(holder=holder, status="accepted")
        FaceEmbedding.objects.create(
            photo=photo, model=default_model, event=event, holder=holder, vector=vector
        )
    probes = unit_vectors(25, 3)
    in_memory = gate_nearest_holders(
        event_id=event.pk, model=default_model, vectors=probes, limit=10
    )
    assert GALLERIES.search(event.pk, default_model.pk, probes, 1) is not None
    for probe, found in zip(probes, in_memory, strict=True):
        exact = nearest_holders(
            event=event, model=default_model, vector=probe, limit=10, exact=True
        )
        assert [m.holder_id for m in found] == [m.holder_id for m in exact]
        assert [m.photo_id for m in found] == [m.photo_id for m in exact]
        np.testing.assert_allclose(
            [m.similarity for m in found], [m.similarity for m in exact], atol=1e-5
        )


def test_a_face_enrolled_after_the_copy_was_loaded_is_found_by_the_next_search(
    org_a, default_model
):
    event = make_event(org_a)
    enroll_vectors(event, default_model, unit_vectors(50, 4))
    newcomer_vector = unit_vectors(1, 5)[0]
    assert top_holder(event, default_model, newcomer_vector) is not None  # the copy is loaded
    holder, photo = new_holder(event, "NEW")
    with transaction.atomic():
        face_embeddings_store(rows=[(photo, newcomer_vector)], model=default_model)
    assert top_holder(event, default_model, newcomer_vector) == holder.pk


def test_a_transaction_that_commits_after_a_later_one_is_still_read(org_a, default_model):
    """The feed is read by position, not by the highest id seen: a batch that took its ids
    first and published last is not skipped."""
    event = make_event(org_a)
    enroll_vectors(event, default_model, unit_vectors(20, 6))
    early_vector, late_vector = unit_vectors(2, 7)
    top_holder(event, default_model, early_vector)
    early = unpublished_face(event, default_model, early_vector, "EARLY")
    late = unpublished_face(event, default_model, late_vector, "LATE")
    late_id = FaceEmbedding.objects.get(holder=late).pk
    early_id = FaceEmbedding.objects.get(holder=early).pk
    assert early_id < late_id
    gallery_feed.embeddings_changed_publish({event.pk: [late_id]})
    assert top_holder(event, default_model, late_vector) == late.pk
    assert top_holder(event, default_model, early_vector) != early.pk  # not published yet
    gallery_feed.embeddings_changed_publish({event.pk: [early_id]})
    assert top_holder(event, default_model, early_vector) == early.pk


def test_a_face_stored_again_replaces_its_old_vector_in_the_copy(org_a, default_model):
    event = make_event(org_a)
    enroll_vectors(event, default_model, unit_vectors(30, 8))
    first, second = unit_vectors(2, 9)
    holder, photo = new_holder(event, "AGAIN")
    with transaction.atomic():
        face_embedding_store(photo=photo, model=default_model, vector=first)
    assert top_holder(event, default_model, first) == holder.pk
    with transaction.atomic():
        face_embedding_store(photo=photo, model=default_model, vector=second)
    assert top_holder(event, default_model, second) == holder.pk
    assert top_holder(event, default_model, first) != holder.pk


def test_a_deleted_photo_leaves_the_copy_when_its_deletion_commits(org_a, default_model):
    event = make_event(org_a)
    holders = enroll_vectors(event, default_model, unit_vectors(30, 10))
    vector = np.asarray(FaceEmbedding.objects.get(holder=holders[0]).vector, np.float32)
    assert top_holder(event, default_model, vector) == holders[0].pk
    enrollment_photo_delete(photo=holders[0].photos.get())
    assert top_holder(event, default_model, vector) != holders[0].pk


def test_a_lost_feed_makes_the_process_load_the_event_again(org_a, default_model):
    """Redis restarted (or trimmed the list): the epoch is gone, so the copy is reloaded and
    holds what was committed meanwhile without being published."""
    event = make_event(org_a)
    enroll_vectors(event, default_model, unit_vectors(20, 11))
    vector = unit_vectors(1, 12)[0]
    top_holder(event, default_model, vector)
    silent = unpublished_face(event, default_model, vector, "SILENT")
    assert top_holder(event, default_model, vector) != silent.pk
    redis_client().delete(gallery_feed.list_key(event.pk), gallery_feed.epoch_key(event.pk))
    assert top_holder(event, default_model, vector) == silent.pk


def test_a_copy_older_than_its_maximum_age_is_loaded_again(org_a, default_model, settings):
    event = make_event(org_a)
    enroll_vectors(event, default_model, unit_vectors(20, 13))
    vector = unit_vectors(1, 14)[0]
    top_holder(event, default_model, vector)
    silent = unpublished_face(event, default_model, vector, "SILENT")
    settings.FACEPASS_GALLERY_MAX_AGE_SECONDS = 0
    assert top_holder(event, default_model, vector) == silent.pk


def test_a_reload_entry_makes_every_process_load_the_event_again(org_a, default_model):
    event = make_event(org_a)
    enroll_vectors(event, default_model, unit_vectors(20, 15))
    vector = unit_vectors(1, 16)[0]
    top_holder(event, default_model, vector)
    silent = unpublished_face(event, default_model, vector, "SILENT")
    ids = list(range(1, gallery_feed.MAX_IDS_PER_ENTRY + 2))  # too many ids: a reload instead
    gallery_feed.embeddings_changed_publish({event.pk: ids})
    assert top_holder(event, default_model, vector) == silent.pk


def assert_postgresql_answers_for(event, model, holder):
    """No copy in memory answers, and the gate's search still finds the holder."""
    probe = np.asarray(FaceEmbedding.objects.get(holder=holder).vector, np.float32)
    assert gallery_search(event_id=event.pk, model_id=model.pk, probes=probe, limit=1) is None
    found = gate_nearest_holders(event_id=event.pk, model=model, vectors=probe[None], limit=1)
    assert found[0][0].holder_id == holder.pk


def test_an_event_above_the_memory_limit_is_searched_in_postgresql(org_a, default_model, settings):
    settings.FACEPASS_GALLERY_MEMORY_ROWS = 40
    event = make_event(org_a)
    holders = enroll_vectors(event, default_model, unit_vectors(60, 17))
    assert_postgresql_answers_for(event, default_model, holders[5])


def test_inside_a_transaction_the_search_goes_to_postgresql(org_a, default_model):
    event = make_event(org_a)
    enroll_vectors(event, default_model, unit_vectors(20, 18))
    with transaction.atomic():
        assert (
            gallery_search(
                event_id=event.pk, model_id=default_model.pk, probes=unit_vectors(1, 19), limit=1
            )
            is None
        )


def test_without_redis_the_search_goes_to_postgresql(org_a, default_model, settings):
    event = make_event(org_a)
    holders = enroll_vectors(event, default_model, unit_vectors(20, 20))
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    assert_postgresql_answers_for(event, default_model, holders[3])


def test_a_holder_deleted_without_notice_decides_nothing_and_leaves_the_copy(org_a, default_model):
    event = make_event(org_a)
    holders = enroll_vectors(event, default_model, unit_vectors(30, 21))
    gone = holders[0]
    vector = np.asarray(FaceEmbedding.objects.get(holder=gone).vector, np.float32)
    assert top_holder(event, default_model, vector) == gone.pk
    TicketHolder.objects.filter(pk=gone.pk).delete()  # the ORM's cascade publishes nothing
    assert gone.pk not in [
        c.holder_id for c in scored_candidates(event, vector[None], default_model)
    ]
    assert top_holder(event, default_model, vector) != gone.pk


def test_a_holder_of_another_event_now_is_not_a_candidate(org_a, default_model):
    event, other = make_event(org_a), make_event(org_a, "Other")
    holders = enroll_vectors(event, default_model, unit_vectors(30, 22))
    moved = holders[0]
    vector = np.asarray(FaceEmbedding.objects.get(holder=moved).vector, np.float32)
    top_holder(event, default_model, vector)
    TicketHolder.objects.filter(pk=moved.pk).update(event=other)
    assert moved.pk not in [
        c.holder_id for c in scored_candidates(event, vector[None], default_model)
    ]

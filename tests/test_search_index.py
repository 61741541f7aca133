"""Per-event HNSW indexes: built once an event outgrows exact search, then used, same answers."""

import numpy as np
import pytest
from django.db import connection, transaction
from django.utils import timezone

from attendees.models import EnrollmentPhoto, TicketHolder
from recognition.models import EventSearchIndex, FaceEmbedding
from recognition.search_index import event_search_index_build, event_search_index_ensure
from recognition.selectors import nearest_holders, nearest_holders_each, nearest_rows_sql
from tests.conftest import make_event


def enroll_vectors(event, model, vectors):
    now = timezone.now()
    holders = TicketHolder.objects.bulk_create(
        TicketHolder(event=event, ticket_code=f"V{i}", name=f"V {i}", consent_at=now)
        for i in range(len(vectors))
    )
    photos = EnrollmentPhoto.objects.bulk_create(
        EnrollmentPhoto(holder=h, status="accepted") for h in holders
    )
    FaceEmbedding.objects.bulk_create(
        FaceEmbedding(photo=p, model=model, event=event, holder=h, vector=v)
        for p, h, v in zip(photos, holders, vectors, strict=True)
    )
    return holders


def unit_vectors(count, seed):
    vectors = np.random.default_rng(seed).normal(size=(count, 128)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def plan_of(event, model, vector, exact, max_distance=None):
    """The plan of the search nearest_holders runs (recognition.selectors.nearest_rows_sql)."""
    sql, params = nearest_rows_sql(event.pk, model.pk, [(vector, None)], 10, max_distance)
    with transaction.atomic(), connection.cursor() as cursor:  # SET LOCAL needs a transaction
        if exact:
            cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.django_db(transaction=True)
def test_a_large_event_gets_its_own_hnsw_index_which_answers_like_exact_search(
    org_a, default_model, settings
):
    settings.FACEPASS_SEARCH_INDEX_MIN_ROWS = 300
    small = make_event(org_a, "Small gig")
    large = make_event(org_a, "Stadium")
    enroll_vectors(small, default_model, unit_vectors(50, 1))
    holders = enroll_vectors(large, default_model, unit_vectors(400, 2))
    assert event_search_index_ensure(event_id=small.pk, model=default_model) is None
    index = event_search_index_ensure(event_id=large.pk, model=default_model)
    assert index.status == EventSearchIndex.Status.BUILDING
    built = event_search_index_build(index_id=index.pk)
    assert built.status == "ready" and built.rows_when_built == 400
    assert built.index_name in plan_of(large, default_model, unit_vectors(1, 3)[0], False)
    assert built.index_name not in plan_of(large, default_model, unit_vectors(1, 3)[0], True)
    assert "hnsw" not in plan_of(small, default_model, unit_vectors(1, 3)[0], False)
    probes = unit_vectors(400, 2)[:40] + 0.05 * unit_vectors(40, 4)
    for probe, holder in zip(probes, holders[:40], strict=True):
        by_index = nearest_holders(event=large, model=default_model, vector=probe)
        exact = nearest_holders(event=large, model=default_model, vector=probe, exact=True)
        assert by_index[0].holder_id == exact[0].holder_id == holder.pk
        assert by_index[0].similarity == pytest.approx(exact[0].similarity, abs=1e-5)


@pytest.mark.django_db(transaction=True)
def test_a_similarity_floor_keeps_exactly_the_matches_above_it_by_exact_search_and_by_index(
    org_a, default_model, settings
):
    settings.FACEPASS_SEARCH_INDEX_MIN_ROWS = 300
    event = make_event(org_a, "Stadium")
    holders = enroll_vectors(event, default_model, unit_vectors(400, 2))
    near = unit_vectors(400, 2)[:20] + 0.05 * unit_vectors(20, 4)  # the first 20 holders' faces
    probes = [(vector, None) for vector in [*near, *unit_vectors(10, 9)]]  # then 10 strangers
    floor = 0.9

    def search(**options):
        found = nearest_holders_each(
            event_id=event.pk, model=default_model, probes=probes, **options
        )
        return [[match.holder_id for match in matches] for matches in found]

    unbounded = nearest_holders_each(
        event_id=event.pk, model=default_model, probes=probes, limit=1, exact=True
    )
    expected = [[m.holder_id for m in matches if m.similarity >= floor] for matches in unbounded]
    assert expected == [[holder.pk] for holder in holders[:20]] + [[]] * 10
    assert search(limit=1, exact=True, min_similarity=floor) == expected
    index = event_search_index_ensure(event_id=event.pk, model=default_model)
    built = event_search_index_build(index_id=index.pk)
    probe = unit_vectors(1, 3)[0]
    assert built.index_name in plan_of(event, default_model, probe, False, max_distance=0.1)
    assert search(limit=1, exact=False, min_similarity=floor) == expected


@pytest.mark.django_db(transaction=True)
def test_enrollment_queues_the_index_build_once_the_event_passes_the_threshold(
    event_a, default_model, settings, celery_worker_process
):
    import time

    from tests.faces import consenting_holder, stored_photo, val_photo

    settings.FACEPASS_SEARCH_INDEX_MIN_ROWS = 20
    enroll_vectors(event_a, default_model, unit_vectors(19, 5))
    from enrollment.workflow import enrollment_process

    photo = stored_photo(consenting_holder(event_a, "T20", "Twentieth"), val_photo(6, 0))
    enrollment_process(photo_ids=[photo.pk])
    index = EventSearchIndex.objects.get(event=event_a, model=default_model)
    deadline = time.monotonic() + 60
    while index.status == "building" and time.monotonic() < deadline:
        time.sleep(0.3)
        index.refresh_from_db()
    assert index.status == "ready" and index.rows_when_built == 20

import time
from datetime import timedelta

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.services import ticket_holder_create
from common.reasons import ReasonError
from enrollment.workflow import (
    BATCH_STAGES,
    enrollment_photo_create,
    enrollment_photos_claim,
    enrollment_process,
    reembed_pending,
)
from recognition.models import EmbeddingModel, FaceEmbedding
from tests.faces import blank_jpeg, consenting_holder, stored_photo, val_photo


def test_the_shipped_default_model_is_registered_with_measured_thresholds(default_model):
    assert default_model.kind == "dlib-resnet"
    assert set(default_model.thresholds) >= {"1e-2", "1e-3"}
    assert default_model.metrics["roc_auc"] >= 0.99
    # The trained MobileNetV2 ships registered but inactive: it misses the accuracy targets
    # (recognition/artifacts/mobilenetv2-siamese/MODEL_CARD.md).
    mobilenet = EmbeddingModel.objects.get(kind="mobilenetv2-siamese")
    assert not mobilenet.is_active and mobilenet.thresholds


@pytest.mark.django_db
def test_no_photo_is_taken_before_consent(event_a):
    holder = ticket_holder_create(event=event_a, ticket_code="N1", name="No Consent")
    with pytest.raises(ReasonError) as err:
        enrollment_photo_create(holder=holder, image_bytes=val_photo(0))
    assert err.value.code == "consent_required"
    assert not EnrollmentPhoto.objects.exists()


def test_a_batch_accepts_good_faces_and_rejects_a_blank_image_with_its_reason(
    event_a, default_model
):
    good = stored_photo(consenting_holder(event_a, "G1", "Good"), val_photo(0))
    blank = stored_photo(consenting_holder(event_a, "B1", "Blank"), blank_jpeg())
    summary = enrollment_process(photo_ids=[good.pk], batch_size=8)
    assert summary["processed"] == 2  # the waiting blank photo joined the batch
    good.refresh_from_db()
    blank.refresh_from_db()
    assert good.status == "accepted" and good.face_box and good.quality
    assert blank.status == "rejected" and blank.rejection_code == "no_face"
    assert "face" in blank.rejection_message
    embedding = FaceEmbedding.objects.get(photo=good)
    assert embedding.model == default_model and embedding.event_id == event_a.pk
    assert abs(np.linalg.norm(embedding.vector) - 1) < 1e-4
    assert good.holder.__class__.objects.get(pk=good.holder_id).status == "enrolled"


def test_a_photo_deleted_while_processed_is_dropped_and_the_rest_of_its_batch_is_kept(
    event_a, default_model, monkeypatch
):
    from attendees.services import enrollment_photo_delete
    from recognition import inference

    kept = stored_photo(consenting_holder(event_a, "D1", "Kept"), val_photo(0))
    deleted = stored_photo(consenting_holder(event_a, "D2", "Deleted"), val_photo(1))
    real_enroll_images = inference.enroll_images

    def attendee_deletes_mid_batch(model, images):
        enrollment_photo_delete(photo=EnrollmentPhoto.objects.get(pk=deleted.pk))
        return real_enroll_images(model, images)

    monkeypatch.setattr(inference, "enroll_images", attendee_deletes_mid_batch)
    summary = enrollment_process(photo_ids=[kept.pk, deleted.pk], batch_size=8)
    assert summary["accepted"] == 1
    kept.refresh_from_db()
    assert kept.status == "accepted" and FaceEmbedding.objects.filter(photo=kept).exists()
    assert not EnrollmentPhoto.objects.filter(pk=deleted.pk).exists()
    assert not FaceEmbedding.objects.filter(photo_id=deleted.pk).exists()


def test_a_claim_abandoned_by_a_killed_worker_is_processed_again(event_a, default_model):
    photo = stored_photo(consenting_holder(event_a, "K1"), val_photo(1))
    stale = timezone.now() - timedelta(hours=1)
    EnrollmentPhoto.objects.filter(pk=photo.pk).update(
        status="processing", processing_started_at=stale
    )
    assert enrollment_process(photo_ids=[photo.pk])["processed"] == 1
    photo.refresh_from_db()
    assert photo.status == "accepted" and photo.attempts == 1


def test_a_fresh_claim_of_another_worker_is_left_alone(event_a, default_model):
    photo = stored_photo(consenting_holder(event_a, "K2"), val_photo(1))
    EnrollmentPhoto.objects.filter(pk=photo.pk).update(
        status="processing", processing_started_at=timezone.now()
    )
    assert enrollment_process(photo_ids=[photo.pk])["processed"] == 0


def test_a_batch_takes_its_own_photo_then_lost_work_then_the_oldest_waiting_photos(event_a):
    photos = [stored_photo(consenting_holder(event_a, f"Q{i}"), val_photo(1)) for i in range(5)]
    lost, fresh_claim = photos[3], photos[4]
    EnrollmentPhoto.objects.filter(pk=lost.pk).update(
        status="processing", processing_started_at=timezone.now() - timedelta(hours=1)
    )
    EnrollmentPhoto.objects.filter(pk=fresh_claim.pk).update(
        status="processing", processing_started_at=timezone.now()
    )
    claimed = enrollment_photos_claim(photo_ids=[photos[2].pk], extra=2)
    assert [p.pk for p in claimed] == [photos[2].pk, lost.pk, photos[0].pk]
    assert claimed[0].holder.event.organization == event_a.organization  # loaded with the claim
    statuses = dict(EnrollmentPhoto.objects.values_list("pk", "status"))
    assert [statuses[p.pk] for p in photos] == ["processing", "pending"] + ["processing"] * 3
    assert enrollment_photos_claim(photo_ids=[fresh_claim.pk], extra=0) == []


def test_one_person_with_two_tickets_is_flagged_for_review(event_a, default_model):
    first = stored_photo(consenting_holder(event_a, "D1", "Dana"), val_photo(6, 0))
    enrollment_process(photo_ids=[first.pk])
    second = stored_photo(consenting_holder(event_a, "D2", "Dana Alias"), val_photo(6, 1))
    enrollment_process(photo_ids=[second.pk])
    flagged = TicketHolder.objects.filter(needs_review=True)
    assert set(flagged.values_list("ticket_code", flat=True)) == {"D1", "D2"}
    assert "Dana Alias" in flagged.get(ticket_code="D1").review_note


def test_different_people_are_not_flagged(event_a, default_model):
    for index in (3, 4):
        photo = stored_photo(consenting_holder(event_a, f"P{index}"), val_photo(index))
        enrollment_process(photo_ids=[photo.pk])
    assert not TicketHolder.objects.filter(needs_review=True).exists()


def test_reembed_fills_in_embeddings_for_a_newly_activated_model(event_a, default_model):
    photo = stored_photo(consenting_holder(event_a, "R1"), val_photo(5))
    enrollment_process(photo_ids=[photo.pk])
    EmbeddingModel.objects.filter(pk=default_model.pk).update(is_active=False)
    newer = EmbeddingModel.objects.create(
        name=default_model.name,
        version="v2",
        kind="dlib-resnet",
        thresholds=default_model.thresholds,
        is_active=True,
    )
    assert reembed_pending(batch_size=2) == 1
    assert reembed_pending(batch_size=2) == 0  # resumable: nothing left
    assert FaceEmbedding.objects.filter(photo=photo).count() == 2
    assert FaceEmbedding.objects.filter(photo=photo, model=newer).exists()


@pytest.mark.worker
def test_a_real_worker_takes_an_uploaded_photo_to_a_stored_embedding(
    event_a, celery_worker_process
):
    call_command("ensure_default_model")
    holder = consenting_holder(event_a, "W1", "Worker Case")
    photo = enrollment_photo_create(holder=holder, image_bytes=val_photo(6))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        photo.refresh_from_db()
        if photo.status in ("accepted", "rejected"):
            break
        time.sleep(0.5)
    assert photo.status == "accepted", (photo.status, photo.rejection_code)
    assert FaceEmbedding.objects.filter(photo=photo, model__is_active=True).count() == 1


def test_twins_in_one_batch_are_flagged_as_one_pair_once(event_a, default_model):
    same_face = val_photo(6, 0)
    twins = [
        stored_photo(consenting_holder(event_a, f"T{i}", f"Twin {i}"), same_face) for i in (1, 2)
    ]
    result = enrollment_process(photo_ids=[p.pk for p in twins], batch_size=2)
    assert (result["accepted"], result["flagged"]) == (2, 1)
    notes = dict(TicketHolder.objects.values_list("ticket_code", "review_note"))
    assert "(T2)" in notes["T1"] and "(T1)" in notes["T2"]
    # A third ticket with the same face is a new pair: flagged, with the note naming it.
    third = stored_photo(consenting_holder(event_a, "T3", "Twin 3"), same_face)
    assert enrollment_process(photo_ids=[third.pk])["flagged"] == 1
    assert TicketHolder.objects.get(ticket_code="T3").needs_review


def test_a_duplicate_note_is_written_in_the_installations_language(
    event_a, default_model, settings
):
    settings.LANGUAGE_CODE = "es"  # the default; the worker serves no request to ask
    same_face = val_photo(6, 0)
    twins = [
        stored_photo(consenting_holder(event_a, f"T{i}", f"Twin {i}"), same_face) for i in (1, 2)
    ]
    enrollment_process(photo_ids=[p.pk for p in twins], batch_size=2)
    note = TicketHolder.objects.get(ticket_code="T1").review_note
    assert note.startswith("El rostro coincide con Twin 2 (T2), similitud ")


def test_a_batch_reports_its_milliseconds_per_stage(event_a, default_model):
    photos = [stored_photo(consenting_holder(event_a, f"S{i}"), val_photo(i)) for i in (3, 4)]
    photos.append(stored_photo(consenting_holder(event_a, "S-blank"), blank_jpeg()))
    result = enrollment_process(photo_ids=[p.pk for p in photos], batch_size=3)
    assert result["processed"] == 3
    assert set(result["stage_ms"]) == set(BATCH_STAGES)
    # Every photo was decoded and searched for a face; the accepted ones were embedded.
    for stage in ("claim", "decode", "detect", "embed", "result_write", "duplicate_check"):
        assert result["stage_ms"][stage] > 0, stage

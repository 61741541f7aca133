"""common.db.rows_update: bulk_update's result in one statement per chunk."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from attendees.models import EnrollmentPhoto, TicketHolder
from common import db
from common.db import rows_update

pytestmark = pytest.mark.django_db


def _photos(event, count):
    holder = TicketHolder.objects.create(event=event, name="Ada", ticket_code="T-1")
    return [EnrollmentPhoto.objects.create(holder=holder, image=f"p{i}.jpg") for i in range(count)]


def test_each_row_gets_its_own_values_of_the_named_fields_in_one_statement(event_a):
    photos = _photos(event_a, 3)
    stamp = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    for index, photo in enumerate(photos):
        photo.status = EnrollmentPhoto.Status.REJECTED if index else EnrollmentPhoto.Status.ACCEPTED
        photo.quality = {"sharpness": 10.0 * index}
        photo.face_box = None if index else [1.5, 2.0, 30.0, 40.0]
        photo.processed_at = stamp
        photo.rejection_message = f"reason {index}"
        photo.attempts = 7  # not named: must stay as stored
    with CaptureQueriesContext(connection) as queries:
        updated = rows_update(
            photos, ["status", "quality", "face_box", "processed_at", "rejection_message"]
        )
    assert updated == 3 and len(queries) == 1
    stored = {p.pk: p for p in EnrollmentPhoto.objects.filter(pk__in=[p.pk for p in photos])}
    for index, photo in enumerate(photos):
        row = stored[photo.pk]
        assert row.status == ("rejected" if index else "accepted")
        assert row.quality == {"sharpness": 10.0 * index}
        assert row.face_box == (None if index else [1.5, 2.0, 30.0, 40.0])
        assert row.processed_at == stamp
        assert row.rejection_message == f"reason {index}"
        assert row.attempts == 0


def test_a_long_list_is_written_in_chunks_under_the_parameter_limit(event_a, monkeypatch):
    photos = _photos(event_a, 5)
    monkeypatch.setattr(db, "MAX_PARAMETERS", 4)  # 2 columns a row: 2 rows a statement
    for photo in photos:
        photo.rejection_message = f"photo {photo.pk}"
    with CaptureQueriesContext(connection) as queries:
        assert rows_update(photos, ["rejection_message"]) == 5
    assert len(queries) == 3
    assert sorted(EnrollmentPhoto.objects.values_list("rejection_message", flat=True)) == sorted(
        f"photo {photo.pk}" for photo in photos
    )


def test_an_unsaved_instance_is_refused_and_nothing_is_written(event_a):
    saved = _photos(event_a, 1)[0]
    saved.rejection_message = "changed"
    unsaved = EnrollmentPhoto(holder=saved.holder)
    with pytest.raises(ValueError, match="saved instances"):
        rows_update([saved, unsaved], ["rejection_message"])
    saved.refresh_from_db()
    assert saved.rejection_message == ""


def test_an_empty_list_runs_no_statement():
    with CaptureQueriesContext(connection) as queries:
        assert rows_update([], ["status"]) == 0
    assert len(queries) == 0

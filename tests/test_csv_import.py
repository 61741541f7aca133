import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from attendees.csv_import import CsvFileError, ticket_holders_import_csv
from attendees.models import TicketHolder

pytestmark = pytest.mark.django_db

GOOD = b"""name,email,ticket_code,external_id
Ada Lovelace,ada@example.com,T-001,ext-1
Alan Turing,,T-002,
"""

MIXED = b"""Name,Email,Ticket Code,External ID
Grace Hopper,grace@example.com,T-010,ext-10
,nobody@example.com,T-011,
Bad Mail,not-an-email,T-012,
Dup One,,T-010,
Ext Thief,,T-013,ext-10
Katherine Johnson,kj@example.com,T-014,ext-14
"""


def test_good_rows_are_imported(event_a):
    report = ticket_holders_import_csv(event=event_a, raw=GOOD)
    assert (report.created, report.updated, report.errors) == (2, 0, [])
    ada = TicketHolder.objects.get(event=event_a, ticket_code="T-001")
    assert (ada.name, ada.email, ada.external_id) == ("Ada Lovelace", "ada@example.com", "ext-1")


def test_reuploading_the_same_file_imports_nothing_twice(event_a):
    ticket_holders_import_csv(event=event_a, raw=GOOD)
    report = ticket_holders_import_csv(event=event_a, raw=GOOD)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 2)
    assert TicketHolder.objects.filter(event=event_a).count() == 2


def test_a_changed_row_updates_the_existing_holder(event_a):
    ticket_holders_import_csv(event=event_a, raw=GOOD)
    report = ticket_holders_import_csv(
        event=event_a, raw=GOOD.replace(b"Alan Turing", b"A. Turing")
    )
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    assert TicketHolder.objects.get(ticket_code="T-002").name == "A. Turing"


def test_bad_rows_are_reported_by_line_and_good_rows_still_import(event_a):
    report = ticket_holders_import_csv(event=event_a, raw=MIXED)
    assert report.created == 2
    errors = dict(report.errors)
    assert errors[3] == "name is empty."
    assert "not a valid e-mail" in errors[4]
    assert "appears more than once" in errors[5]
    assert "already belongs to ticket 'T-010'" in errors[6]
    codes = set(TicketHolder.objects.values_list("ticket_code", flat=True))
    assert codes == {"T-010", "T-014"}


def test_a_file_without_the_required_columns_is_refused_whole(event_a):
    with pytest.raises(CsvFileError, match="Missing column"):
        ticket_holders_import_csv(event=event_a, raw=b"first,last\nA,B\n")
    with pytest.raises(CsvFileError, match="not UTF-8"):
        ticket_holders_import_csv(event=event_a, raw=b"name,ticket_code\n\xff\xfe\x00bad,1\n")


def test_the_admin_import_page_reports_rows_and_is_scoped(client_a, event_a, event_b):
    url = reverse("admin:attendees_ticketholder_import_csv")
    page = client_a.get(url).content.decode()
    assert event_a.name in page and event_b.name not in page
    upload = SimpleUploadedFile("holders.csv", MIXED, content_type="text/csv")
    response = client_a.post(url, {"event": event_a.pk, "csv_file": upload})
    body = response.content.decode()
    assert "2 created, 0 updated, 0 unchanged, 4 rows with errors" in body
    assert "not a valid e-mail" in body
    foreign = SimpleUploadedFile("holders.csv", GOOD, content_type="text/csv")
    client_a.post(url, {"event": event_b.pk, "csv_file": foreign})
    assert not TicketHolder.objects.filter(event=event_b).exists()

"""The organizer's admin (issue 16): derived holder status with revoke/unrevoke, the event
dashboard and admin home, readable check-ins, API key revocation, registration links."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.registration_links import holder_from_registration_token
from attendees.services import ticket_holder_create, ticket_holder_record_consent
from events.models import CheckIn

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:attendees_ticketholder_changelist"


def _photo(holder, status="accepted", code="") -> EnrollmentPhoto:
    buf = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 120, 90)).save(buf, "JPEG")
    photo = EnrollmentPhoto(holder=holder, status=status, rejection_code=code)
    photo.image.save("x.jpg", ContentFile(buf.getvalue()), save=False)
    photo.save()
    return photo


def _holder(event, code="T1", name="Tina", consent=False):
    holder = ticket_holder_create(event=event, ticket_code=code, name=name, email=f"{code}@x.org")
    if consent:
        ticket_holder_record_consent(holder=holder, text_version="2026-11")
    return holder


def _change_url(holder):
    return reverse("admin:attendees_ticketholder_change", args=[holder.pk])


def _change_data(holder, **overrides):
    data = {
        "event": holder.event_id,
        "ticket_code": holder.ticket_code,
        "name": holder.name,
        "email": holder.email,
        "external_id": holder.external_id,
        "review_note": "",
        "photos-TOTAL_FORMS": 0,
        "photos-INITIAL_FORMS": 0,
    }
    data.update(overrides)
    return data


# Item 1: status derived, revoke and unrevoke as actions.


def test_the_holder_form_cannot_set_a_status_by_hand(client_a, event_a):
    holder = _holder(event_a)
    page = client_a.get(_change_url(holder)).content.decode()
    assert 'name="status"' not in page
    response = client_a.post(_change_url(holder), _change_data(holder, status="enrolled"))
    assert response.status_code == 302
    holder.refresh_from_db()
    assert holder.status == TicketHolder.Status.INVITED


def test_the_holder_list_shows_the_status_with_its_photos_and_consent(client_a, event_a):
    holder = _holder(event_a, consent=True)
    _photo(holder, status="pending")
    _photo(holder, status="rejected", code="too_dark")
    page = client_a.get(reverse(CHANGELIST)).content.decode()
    assert "Consented, no accepted photo" in page
    assert "1 photo being checked" in page
    assert "1 photo rejected: Too dark" in page


def test_revoking_and_unrevoking_from_the_list_restores_the_derived_status(client_a, event_a):
    holder = _holder(event_a, consent=True)
    _photo(holder)
    holder.status = TicketHolder.Status.ENROLLED
    holder.save()
    data = {"action": "revoke_tickets", "_selected_action": [holder.pk]}
    client_a.post(reverse(CHANGELIST), data)
    holder.refresh_from_db()
    assert holder.status == TicketHolder.Status.REVOKED
    data["action"] = "unrevoke_tickets"
    client_a.post(reverse(CHANGELIST), data)
    holder.refresh_from_db()
    assert holder.status == TicketHolder.Status.ENROLLED


def test_unrevoking_a_holder_without_consent_makes_them_invited_not_enrolled(client_a, event_a):
    holder = _holder(event_a)
    act = "admin:attendees_ticketholder_act"
    client_a.post(reverse(act, args=[holder.pk, "revoke"]))
    holder.refresh_from_db()
    assert holder.status == TicketHolder.Status.REVOKED
    client_a.post(reverse(act, args=[holder.pk, "unrevoke"]))
    holder.refresh_from_db()
    assert holder.status == TicketHolder.Status.INVITED


def test_another_organizer_cannot_revoke_a_holder(client, organizer_b, event_a):
    holder = _holder(event_a)
    client.force_login(organizer_b)
    url = reverse("admin:attendees_ticketholder_act", args=[holder.pk, "revoke"])
    assert client.post(url).status_code == 404
    holder.refresh_from_db()
    assert holder.status == TicketHolder.Status.INVITED


def test_the_registration_page_of_a_holder_without_consent_never_says_registered(
    client, client_a, event_a
):
    holder = _holder(event_a)
    client_a.post(_change_url(holder), _change_data(holder, status="enrolled"))
    link = _issue_and_read_link(client_a, holder)
    client.logout()
    page = client.get(link).content.decode()
    assert "You are registered" not in page


# Item 2: the dashboard and the admin home.


def _checkin(event, gate, decision, holder=None, reason="", score=None):
    return CheckIn.objects.create(
        event=event,
        gate=gate,
        attendee=holder,
        decision=decision,
        mode=gate.mode,
        reason=reason,
        score=score,
    )


def test_the_event_dashboard_counts_holders_photos_and_gate_traffic(client_a, event_a):
    north = event_a.gates.get(name="North")
    enrolled = _holder(event_a, "E1", "Enzo", consent=True)
    _photo(enrolled)
    enrolled.status = TicketHolder.Status.ENROLLED
    enrolled.save()
    rejected = _holder(event_a, "R1", "Rita", consent=True)
    _photo(rejected, status="rejected", code="too_blurred")
    _holder(event_a, "I1", "Ines")
    _checkin(event_a, north, "admit", enrolled, score=0.91)
    _checkin(event_a, north, "deny", rejected, reason="face_mismatch", score=0.2)
    page = client_a.get(reverse("admin:events_event_dashboard", args=[event_a.pk]))
    assert page.status_code == 200
    board = page.context["board"]
    assert (board.holders, board.consented, board.enrolled, board.checked_in) == (3, 2, 1, 1)
    assert board.rejected_by_reason == [("too_blurred", 1)]
    assert board.denials_by_reason == [("face_mismatch", 1)]
    assert [(name, n) for _, name, n in board.admits_by_gate] == [("North", 1)]
    html = page.content.decode()
    assert "Blurred" in html and "Face does not match" in html
    assert reverse("gate-page", args=[north.pk]) in html
    assert "rejected_reason=too_blurred" in html


def test_the_dashboards_filtered_links_open_the_lists_they_count(client_a, event_a):
    holder = _holder(event_a, "R2", "Rosa", consent=True)
    _photo(holder, status="rejected", code="too_dark")
    _holder(event_a, "N1", "Nora")
    context = client_a.get(reverse("admin:events_event_dashboard", args=[event_a.pk])).context
    url = context["rejected"][0]["url"]
    page = client_a.get(url).content.decode()
    assert "Rosa" in page and "Nora" not in page
    consented = [u for label, _, u in context["holder_rows"] if label == "Consented"][0]
    page = client_a.get(consented).content.decode()
    assert "Rosa" in page and "Nora" not in page


def test_another_organizers_event_dashboard_is_not_found(client, organizer_b, event_a):
    client.force_login(organizer_b)
    url = reverse("admin:events_event_dashboard", args=[event_a.pk])
    assert client.get(url).status_code == 404


def test_the_admin_home_lists_the_organizers_events_with_their_counts(client_a, event_a, event_b):
    _holder(event_a, "H1", "Hugo", consent=True)
    _holder(event_a, "H2", "Hana")
    page = client_a.get(reverse("admin:index"))
    html = page.content.decode()
    assert event_a.name in html and event_b.name not in html
    assert reverse("admin:events_event_dashboard", args=[event_a.pk]) in html
    row = html[html.index(event_a.name) :]
    cells = row.split('class="fp-count">')[1:3]
    assert [c.split("<")[0] for c in cells] == ["2", "1"]


# Item 3: the check-in log.

CHECKINS = "admin:events_checkin_changelist"


def test_the_check_in_list_reads_decision_reason_words_and_three_decimal_scores(client_a, event_a):
    north = event_a.gates.get(name="North")
    _checkin(event_a, north, "deny", reason="face_mismatch", score=0.123456789)
    html = client_a.get(reverse(CHECKINS)).content.decode()
    assert "0.123<" in html and "0.1234" not in html
    assert ">Face does not match<" in html
    assert ">face_mismatch<" not in html
    assert 'class="fp-badge fp-deny"' in html
    table = html[html.index('id="result_list"') :]
    header = table[: table.index("</thead>")]
    assert header.index("Decision") < header.index("Gate")


def test_the_check_in_list_filters_by_event_gate_decision_and_date(client_a, org_a, event_a):
    from tests.conftest import make_event

    other = make_event(org_a, "Alpha Cup Semi")
    side = other.gates.create(name="Side")
    north = event_a.gates.get(name="North")
    lane = event_a.gates.get(name="Face lane")
    admit = _checkin(event_a, north, "admit", score=0.9)
    deny = _checkin(event_a, lane, "deny", reason="no_match")
    elsewhere = _checkin(other, side, "admit")
    old = _checkin(event_a, north, "admit")
    CheckIn.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=3))

    def shown(**query):
        response = client_a.get(reverse(CHECKINS), query)
        assert response.status_code == 200
        return {c.pk for c in response.context["cl"].result_list}

    assert shown(event__id__exact=event_a.pk) == {admit.pk, deny.pk, old.pk}
    assert shown(gate__id__exact=lane.pk) == {deny.pk}
    assert shown(decision__exact="admit") == {admit.pk, elsewhere.pk, old.pk}
    today = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    assert shown(created_at__gte=str(today)) == {admit.pk, deny.pk, elsewhere.pk}
    assert shown(reason="no_match") == {deny.pk}
    assert shown(q="Semi") == {elsewhere.pk}


def test_the_holder_page_lists_the_holders_check_ins(client_a, event_a):
    holder = _holder(event_a, "G1", "Gil")
    north = event_a.gates.get(name="North")
    checkin = _checkin(event_a, north, "admit", holder, score=0.87654)
    html = client_a.get(_change_url(holder)).content.decode()
    assert reverse("admin:events_checkin_change", args=[checkin.pk]) in html
    assert "0.877" in html and "North" in html


# Item 4: API keys.

KEYS = "admin:api_apikey_changelist"


def test_revoking_api_keys_asks_first_and_names_the_keys(client_a, org_a):
    from api.services import api_key_create

    key, _ = api_key_create(organization=org_a, name="ticket shop")
    ask = client_a.post(reverse(KEYS), {"action": "revoke_keys", "_selected_action": [key.pk]})
    assert ask.status_code == 200
    page = ask.content.decode()
    assert "ticket shop" in page and "Yes, revoke these keys" in page
    key.refresh_from_db()
    assert key.revoked_at is None
    data = {"action": "revoke_keys", "_selected_action": [key.pk], "post": "yes"}
    client_a.post(reverse(KEYS), data)
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_revoked_keys_look_revoked_and_can_be_filtered_out(client_a, org_a):
    from api.services import api_key_create, api_key_revoke

    live, _ = api_key_create(organization=org_a, name="live shop")
    dead, _ = api_key_create(organization=org_a, name="old shop")
    api_key_revoke(key=dead)
    html = client_a.get(reverse(KEYS)).content.decode()
    assert "<del>old shop</del>" in html and "<del>live shop</del>" not in html
    assert html.count('class="fp-badge fp-revoked"') == 1
    active = client_a.get(reverse(KEYS), {"state": "active"}).context["cl"].result_list
    assert [k.pk for k in active] == [live.pk]


# Item 5: the home page and the 404 page.


def test_the_home_page_says_what_facepass_is_and_links_every_door(client):
    page = client.get("/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Face-verified entry for events" in html
    for name in ("admin:index", "gate-list", "attendees:start", "api-docs"):
        assert f'href="{reverse(name)}"' in html


def test_the_admins_view_site_link_opens_the_home_page(client_a):
    html = client_a.get(reverse("admin:index")).content.decode()
    assert 'href="/"' in html
    assert client_a.get("/").status_code == 200


def test_an_unknown_address_gets_a_plain_404_without_the_url_listing(client, settings):
    settings.DEBUG = False
    page = client.get("/no/such/page")
    assert page.status_code == 404
    html = page.content.decode()
    assert "Page not found" in html and 'href="/"' in html
    assert "URLconf" not in html and "admin/" not in html and "api/v1/" not in html


# Item 6: registration links.


def _issue_and_read_link(client_a, holder) -> str:
    client_a.post(reverse("admin:attendees_ticketholder_act", args=[holder.pk, "link"]))
    return _read_link(client_a, holder)


def _read_link(client_a, holder) -> str:
    page = client_a.get(_change_url(holder)).content.decode()
    start = page.index('id="registration-link"')
    tag = page[page.rindex("<input", 0, start) : page.index(">", start)]
    return tag.split('value="')[1].split('"')[0].replace("&amp;", "&")


def test_a_registration_link_stays_the_same_on_reload_until_reissued(client_a, event_a):
    holder = _holder(event_a)
    _issue_and_read_link(client_a, holder)
    # Issued a minute ago: a new issue now signs another time.
    TicketHolder.objects.filter(pk=holder.pk).update(
        registration_link_issued_at=timezone.now() - timedelta(minutes=1)
    )
    first = _read_link(client_a, holder)
    assert _read_link(client_a, holder) == first
    reissued = _issue_and_read_link(client_a, holder)
    assert reissued != first
    for link in (first, reissued):  # links sent before stay valid until they expire
        token = link.rstrip("/").rsplit("/", 1)[1]
        assert holder_from_registration_token(token) == holder


def test_an_expired_link_is_not_shown(client_a, event_a, settings):
    holder = _holder(event_a)
    _issue_and_read_link(client_a, holder)
    TicketHolder.objects.filter(pk=holder.pk).update(
        registration_link_issued_at=timezone.now()
        - timedelta(seconds=settings.FACEPASS_REGISTRATION_LINK_MAX_AGE + 60)
    )
    page = client_a.get(_change_url(holder)).content.decode()
    assert 'id="registration-link"' not in page
    assert "No link issued yet, or it has expired" in page


def test_bulk_export_gives_a_csv_of_working_links_for_a_mail_merge(client, client_a, event_a):
    keep = _holder(event_a, "K1", "=HYPERLINK(1)")
    fresh = _holder(event_a, "F1", "Fabio")
    revoked = _holder(event_a, "X1", "Xena")
    revoked.status = TicketHolder.Status.REVOKED
    revoked.save()
    shown = _issue_and_read_link(client_a, keep)
    data = {
        "action": "export_registration_links",
        "_selected_action": [keep.pk, fresh.pk, revoked.pk],
    }
    response = client_a.post(reverse(CHANGELIST), data)
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r["ticket_code"] for r in sorted(rows, key=lambda r: r["ticket_code"])] == [
        "F1",
        "K1",
    ]
    by_code = {r["ticket_code"]: r for r in rows}
    assert by_code["K1"]["registration_link"] == shown  # an issued link is exported unchanged
    assert by_code["K1"]["name"] == "'=HYPERLINK(1)"  # no formula reaches the spreadsheet
    client.logout()
    assert client.get(by_code["F1"]["registration_link"]).status_code == 200


def test_bulk_issue_gives_every_selected_holder_a_link(client_a, event_a):
    holders = [_holder(event_a, f"B{i}", f"Bea {i}") for i in range(3)]
    data = {"action": "issue_registration_links", "_selected_action": [h.pk for h in holders]}
    client_a.post(reverse(CHANGELIST), data)
    assert not TicketHolder.objects.filter(registration_link_issued_at=None).exists()


# Item 7: minor.


def test_holder_names_sort_naturally(client_a, event_a):
    for n in (10, 2, 1):
        _holder(event_a, f"N{n}", f"Held out {n}")
    html = client_a.get(reverse(CHANGELIST)).content.decode()
    positions = [html.index(f"Held out {n}<") for n in (1, 2, 10)]
    assert positions == sorted(positions)


def test_the_review_column_says_check_faces_only_when_a_review_is_needed(client_a, event_a):
    _holder(event_a, "C1", "Clean")
    flagged = _holder(event_a, "C2", "Flagged")
    flagged.needs_review = True
    flagged.save()
    html = client_a.get(reverse(CHANGELIST)).content.decode()
    assert html.count("Check faces") == 1
    assert "icon-no.svg" not in html


def test_the_migration_derives_every_status_set_by_hand(event_a):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("attendees.migrations.0006_derive_holder_status")
    bare = _holder(event_a, "M1", "Bare")
    consented = _holder(event_a, "M2", "Consented", consent=True)
    revoked = _holder(event_a, "M3", "Revoked")
    TicketHolder.objects.filter(pk__in=[bare.pk, consented.pk]).update(status="enrolled")
    TicketHolder.objects.filter(pk=revoked.pk).update(status="revoked")
    migration.derive_status(apps, None)
    statuses = dict(TicketHolder.objects.values_list("ticket_code", "status"))
    assert statuses == {"M1": "invited", "M2": "consented", "M3": "revoked"}


def test_the_check_in_log_is_labelled_check_ins(client_a, event_a):
    home = client_a.get(reverse("admin:index")).content.decode()
    assert "Check ins" not in home and ">Check-ins<" in home
    listing = client_a.get(reverse(CHECKINS)).content.decode()
    assert "Select check-in to view" in listing

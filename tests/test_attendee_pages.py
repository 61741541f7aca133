"""What the attendee reads: a consent text true to the event's settings, the event time in the
event's time zone, a photo count that matches the list, a favicon."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings

from attendees.models import EnrollmentPhoto
from attendees.registration_links import registration_path
from attendees.services import ticket_holder_create
from enrollment.workflow import enrollment_process
from events.services import event_update
from tests.conftest import make_event
from tests.faces import blank_jpeg, consenting_holder, stored_photo, val_photo


def _page(client, holder, language="en") -> str:
    response = client.get(registration_path(holder), HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def _consent_text(page: str) -> str:
    block = page.split('<div class="consent-text">', 1)[1].split('<p class="version">', 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", block).split())


@pytest.fixture
def newcomer(event_a):
    return ticket_holder_create(event=event_a, ticket_code="N-1", name="Nora", email="n@x.co")


def test_the_consent_text_names_the_organizer_and_the_events_retention(client, newcomer):
    event_update(event=newcomer.event, biometric_retention_days=30)
    text = _consent_text(_page(client, newcomer))
    assert "Alpha Arenas would like to let you into Alpha Cup Final" in text
    assert "The staff of Alpha Arenas, the organizer responsible" in text
    assert "deleted 30 days after the event ends" in text
    assert "compared with it and not kept" in text  # no frame retention on this event


def test_with_frame_retention_the_consent_text_says_frames_are_kept_and_for_how_long(
    client, newcomer
):
    event_update(event=newcomer.event, dispute_frame_retention_hours=48, biometric_retention_days=1)
    text = _consent_text(_page(client, newcomer))
    assert "kept for 48 hours, so that a disputed entry can be checked" in text
    assert "not kept" not in text
    assert "deleted 1 day after the event ends" in text
    spanish = _consent_text(_page(client, newcomer, "es"))
    assert "se guardan 48 horas" in spanish and "1 día después" in spanish


def test_every_consent_section_comes_before_i_agree_in_the_page_flow(client, newcomer):
    page = _page(client, newcomer)
    agree = page.index('name="agree"')
    for heading in ("What we collect", "What for", "Who sees it", "How long", "Your choice"):
        assert page.index(f"<h3>{heading}</h3>") < agree
    rules = re.findall(r"\.consent-text[^{]*\{[^}]*\}", _css())
    assert rules and not [rule for rule in rules if "overflow" in rule or "max-height" in rule]


def test_consent_stores_the_version_of_the_text_shown(client, newcomer, settings):
    version = re.search(r'name="text_version" value="([^"]+)"', _page(client, newcomer)).group(1)
    assert version == settings.FACEPASS_CONSENT_TEXT_VERSION
    token = registration_path(newcomer).rstrip("/").rsplit("/", 1)[-1]
    client.post(f"/register/{token}/consent", {"agree": "on", "text_version": version})
    newcomer.refresh_from_db()
    assert newcomer.consent_text_version == version and newcomer.has_consented


def test_the_event_time_is_shown_in_the_events_time_zone_with_its_name(client, org_a):
    starts = datetime(2026, 12, 20, 1, 30, tzinfo=UTC)  # 20:30 on the 19th in Bogotá
    event = make_event(
        org_a,
        "Bogota Night",
        time_zone="America/Bogota",
        starts_at=starts,
        ends_at=starts.replace(hour=6),
    )
    holder = ticket_holder_create(event=event, ticket_code="B-1", name="Beto")
    subtitle = re.search(r'<p class="subtitle">(.*?)</p>', _page(client, holder), re.S).group(1)
    assert "Dec. 19, 2026, 8:30 p.m." in subtitle
    assert "(America/Bogota, UTC-0500)" in subtitle
    spanish = _page(client, holder, "es")
    assert "19 de diciembre de 2026 a las 20:30" in spanish


def test_an_event_time_zone_must_be_an_iana_name(org_a):
    with pytest.raises(ValidationError) as refused:
        make_event(org_a, "Typo Fest", time_zone="America/Bogata")
    assert "America/Bogata is not a time zone name" in str(refused.value)


@override_settings(TIME_ZONE="Europe/Madrid")
def test_a_new_event_takes_the_deployments_time_zone(org_a):
    assert make_event(org_a, "Madrid Gala").time_zone == "Europe/Madrid"


def test_the_photo_count_counts_every_listed_photo_and_says_which_count_toward_the_limit(
    client, event_a, default_model
):
    holder = consenting_holder(event_a, "P-1", "Pia")
    rejected, accepted = stored_photo(holder, blank_jpeg()), stored_photo(holder, val_photo(6, 0))
    enrollment_process(photo_ids=[rejected.pk, accepted.pk])
    statuses = set(EnrollmentPhoto.objects.filter(holder=holder).values_list("status", flat=True))
    assert statuses == {"accepted", "rejected"}
    page = _page(client, holder)
    listed = page.split('<ul id="photo-list"', 1)[1].split("</ul>", 1)[0]
    assert len(re.findall(r'<li class="photo ', listed)) == 2
    assert re.search(r'Your photos \(<span id="photo-count">2</span>\)', page)
    assert '<span id="photos-in-use">1</span> of 5 usable photos' in page


def test_one_primary_and_one_secondary_photo_action_and_delete_buttons_large_enough(
    client, event_a
):
    holder = consenting_holder(event_a, "P-2", "Paco")
    page = _page(client, holder)
    photo = page.split('<section id="photo"', 1)[1].split("</section>", 1)[0]
    assert photo.count('type="file"') == 2  # the phone camera (primary) and a file (secondary)
    assert 'id="camera-start" class="primary"' in photo  # the live camera takes its place
    assert 'id="choose-file"' in photo and "secondary" in photo
    assert re.search(r"<noscript><button type=\"submit\">", photo)  # submit only without JS
    rule = re.search(r"\.photo-delete button \{[^}]*\}", _css()).group(0)
    assert "min-height: 44px" in rule


def test_pages_have_a_favicon(client, newcomer):
    assert 'rel="icon" href="/static/favicon.svg"' in _page(client, newcomer)
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/favicon.svg"


def _css() -> str:
    from tests.conftest import REPO_ROOT

    return (REPO_ROOT / "static" / "facepass.css").read_text()

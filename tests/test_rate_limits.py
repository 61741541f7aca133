"""Rate limits: 429 with Retry-After on the registration pages (per address, per ticket, per
holder) and the API (per key); failed ticket look-ups are slowed and logged."""

import logging
import time
from unittest.mock import patch

import pytest
import redis
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import RequestFactory
from django.urls import reverse

from attendees.registration_links import registration_path
from attendees.services import ticket_holder_create
from common import ratelimit
from common.workers import redis_client
from facepass_site.envconfig import env_rate
from tests.api.conftest import api_client, assert_error
from tests.faces import consenting_holder, val_photo

JSON = {"HTTP_ACCEPT": "application/json"}
START = "/register/"


def clear_rate_limits():
    client = redis_client()
    keys = list(client.scan_iter(match="*:ratelimit:*", count=500))
    if keys:
        client.delete(*keys)


@pytest.fixture(autouse=True)
def _fresh_counters():
    clear_rate_limits()
    yield
    clear_rate_limits()


@pytest.fixture
def holder(event_a):
    return ticket_holder_create(
        event=event_a, ticket_code="RL-1", name="Rita Rate", email="rita@example.org"
    )


def _lookup(client, code, email, ip="198.51.100.10"):
    return client.post(START, {"ticket_code": code, "email": email}, REMOTE_ADDR=ip)


def _token_url(name, holder):
    token = registration_path(holder).rstrip("/").rsplit("/", 1)[-1]
    return reverse(f"attendees:{name}", kwargs={"token": token})


def _assert_429_page(response):
    assert response.status_code == 429, response.status_code
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert response["Content-Type"].startswith("text/html")
    assert "Too many attempts" in response.content.decode()


def test_the_lookup_form_answers_429_with_retry_after_past_the_per_address_limit(
    client, holder, settings
):
    settings.FACEPASS_RATE_REGISTER_IP = (3, 60)
    for _ in range(3):
        assert _lookup(client, "RL-1", "rita@example.org").status_code == 302
    _assert_429_page(_lookup(client, "RL-1", "rita@example.org"))
    # Another address is counted on its own.
    assert _lookup(client, "RL-1", "rita@example.org", ip="198.51.100.11").status_code == 302


def test_failed_lookups_of_one_ticket_code_lock_that_code_even_with_the_right_email(
    client, holder, event_a, settings
):
    settings.FACEPASS_RATE_REGISTER_TICKET = (3, 900)
    settings.FACEPASS_REGISTER_FAILURE_DELAY_MAX = 0
    other = ticket_holder_create(event=event_a, ticket_code="RL-2", name="O", email="o@x.org")
    for n in range(3):  # a guesser tries e-mails for a known code, from changing addresses
        response = _lookup(client, "RL-1", f"guess{n}@example.org", ip=f"203.0.113.{n}")
        assert response.status_code == 400
    locked = _lookup(client, "RL-1", "rita@example.org", ip="203.0.113.99")
    _assert_429_page(locked)
    assert "registration link" in locked.content.decode()
    assert _lookup(client, "RL-2", "o@x.org").status_code == 302, other


def test_failed_lookups_of_one_email_lock_that_email_across_ticket_codes(client, holder, settings):
    settings.FACEPASS_RATE_REGISTER_TICKET = (2, 900)
    settings.FACEPASS_REGISTER_FAILURE_DELAY_MAX = 0
    for code in ("X-1", "X-2"):
        assert _lookup(client, code, "rita@example.org").status_code == 400
    _assert_429_page(_lookup(client, "RL-1", "rita@example.org"))


def test_successful_lookups_are_not_counted_as_failures(client, holder, settings):
    settings.FACEPASS_RATE_REGISTER_TICKET = (2, 900)
    settings.FACEPASS_RATE_REGISTER_FAILURES_IP = (2, 900)
    for _ in range(5):
        assert _lookup(client, "RL-1", "rita@example.org").status_code == 302


def test_an_address_with_too_many_failures_is_refused_while_other_addresses_go_on(
    client, holder, settings
):
    settings.FACEPASS_RATE_REGISTER_FAILURES_IP = (3, 600)
    settings.FACEPASS_REGISTER_FAILURE_DELAY_MAX = 0
    for n in range(3):
        assert _lookup(client, f"G-{n}", f"g{n}@example.org").status_code == 400
    _assert_429_page(_lookup(client, "RL-1", "rita@example.org"))
    assert _lookup(client, "RL-1", "rita@example.org", ip="198.51.100.77").status_code == 302


def test_failed_lookups_are_slowed_progressively_up_to_the_cap(client, holder, settings):
    settings.FACEPASS_REGISTER_FAILURE_DELAY_MAX = 1.0
    with patch("pages.registration.time.sleep") as sleep:
        for n in range(7):
            assert _lookup(client, f"S-{n}", f"s{n}@example.org").status_code == 400
        assert [c.args[0] for c in sleep.call_args_list] == [0.25, 0.5, 1.0, 1.0]
        sleep.reset_mock()
        assert _lookup(client, "RL-1", "rita@example.org").status_code == 302
        sleep.assert_not_called()  # the right details are never slowed


def test_failed_lookups_are_logged_with_the_address_but_no_email_or_code_in_clear(
    client, holder, settings, caplog
):
    settings.FACEPASS_REGISTER_FAILURE_DELAY_MAX = 0
    with caplog.at_level(logging.WARNING, logger="facepass.security"):
        _lookup(client, "SECRET-CODE-7", "victim@example.org", ip="192.0.2.44")
    records = [r for r in caplog.records if r.name == "facepass.security"]
    assert len(records) == 1 and records[0].levelno == logging.WARNING
    text = records[0].getMessage()
    assert "registration lookup failed" in text and "ip=192.0.2.44" in text
    assert "victim" not in text.lower() and "SECRET-CODE-7" not in text
    assert ratelimit.digest("email:victim@example.org") in text  # correlatable, not readable


def test_consent_and_upload_posts_are_limited_per_ticket_holder(client, event_a, settings):
    settings.FACEPASS_RATE_REGISTER_HOLDER = (2, 60)
    first = consenting_holder(event_a, "H-1", "First")
    second = consenting_holder(event_a, "H-2", "Second")
    consent = {"agree": "on", "text_version": settings.FACEPASS_CONSENT_TEXT_VERSION}
    assert client.post(_token_url("consent", first), consent).status_code == 302
    photo = SimpleUploadedFile("selfie.jpg", val_photo(6, 0), content_type="image/jpeg")
    assert (
        client.post(_token_url("photo-upload", first), {"photo": photo}, **JSON).status_code == 201
    )
    photo.seek(0)
    refused = client.post(_token_url("photo-upload", first), {"photo": photo}, **JSON)
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited" and refused.json()["message"]
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert first.photos.count() == 1
    _assert_429_page(client.post(_token_url("consent", first), consent))
    # Reading the page and polling the status are never limited; other holders go on.
    assert client.get(registration_path(first)).status_code == 200
    assert client.get(_token_url("status", first), **JSON).status_code == 200
    assert client.post(_token_url("consent", second), consent).status_code == 302


def test_a_stadium_behind_one_nat_address_is_not_blocked_by_the_default_limits(client, event_a):
    holders = [
        ticket_holder_create(event=event_a, ticket_code=f"N-{n}", name="N") for n in range(40)
    ]
    consent = {"agree": "on", "text_version": settings.FACEPASS_CONSENT_TEXT_VERSION}
    for holder in holders:
        response = client.post(_token_url("consent", holder), consent, REMOTE_ADDR="100.64.0.1")
        assert response.status_code == 302


def test_the_api_answers_429_per_key_in_the_error_format_with_retry_after(org_a, settings):
    settings.FACEPASS_RATE_API_KEY = (3, 60)
    first, second = api_client(org_a), api_client(org_a)
    for _ in range(3):
        assert first.get("/api/v1/events/").status_code == 200
    body = assert_error(first.get("/api/v1/events/"), 429, "rate_limited")
    assert "at most 3 per 60 seconds" in body["message"]
    response = first.post("/api/v1/events/", {}, format="json")
    assert response.status_code == 429 and 1 <= int(response["Retry-After"]) <= 60
    assert second.get("/api/v1/events/").status_code == 200  # counted per key


def test_requests_without_a_valid_key_are_refused_before_counting(org_a, settings):
    settings.FACEPASS_RATE_API_KEY = (1, 60)
    from rest_framework.test import APIClient

    anonymous = APIClient()
    for _ in range(3):
        assert anonymous.get("/api/v1/events/").status_code == 401


def test_a_window_resets_after_its_period():
    rate = (1, 1)
    time.sleep(1 - time.time() % 1 + 0.01)  # start at the beginning of a window
    assert ratelimit.hit("test-window", "x", rate).allowed
    refused = ratelimit.hit("test-window", "x", rate)
    assert not refused.allowed and refused.retry_after == 1
    time.sleep(1.0)
    assert ratelimit.hit("test-window", "x", rate).allowed


def test_an_unreachable_redis_lets_requests_through_and_logs(caplog):
    broken = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    with patch.object(ratelimit, "_client", return_value=broken):
        verdict = ratelimit.hit("test-down", "x", (1, 60))
        verdict_again = ratelimit.hit("test-down", "x", (1, 60))
    assert verdict.allowed and verdict_again.allowed
    assert "Redis unavailable" in caplog.text


def test_the_client_address_comes_from_x_forwarded_for_only_behind_trusted_proxies(settings):
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.5"
    )
    settings.FACEPASS_TRUSTED_PROXIES = 0
    assert ratelimit.client_ip(request) == "10.0.0.2"  # the header is the client's to forge
    settings.FACEPASS_TRUSTED_PROXIES = 1
    assert ratelimit.client_ip(request) == "198.51.100.5"  # what our one proxy saw
    settings.FACEPASS_TRUSTED_PROXIES = 2
    assert ratelimit.client_ip(request) == "6.6.6.6"
    settings.FACEPASS_TRUSTED_PROXIES = 3
    assert ratelimit.client_ip(request) == "10.0.0.2"
    garbage = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="<script>")
    settings.FACEPASS_TRUSTED_PROXIES = 1
    assert ratelimit.client_ip(garbage) == "10.0.0.2"


@pytest.mark.parametrize(
    "raw, expected",
    [("600/10m", (600, 600)), ("5/30", (5, 30)), ("3000/1m", (3000, 60)), ("2/h", (2, 3600))],
)
def test_rates_from_the_environment_are_parsed(monkeypatch, raw, expected):
    monkeypatch.setenv("FACEPASS_RATE_X", raw)
    assert env_rate("FACEPASS_RATE_X", "1/1") == expected


@pytest.mark.parametrize("raw", ["ten/1m", "5/0", "0/1m", "5/1y", "5/"])
def test_a_bad_rate_names_the_variable(monkeypatch, raw):
    monkeypatch.setenv("FACEPASS_RATE_X", raw)
    with pytest.raises(ImproperlyConfigured, match="FACEPASS_RATE_X"):
        env_rate("FACEPASS_RATE_X", "1/1")


def test_a_rate_can_be_switched_off(monkeypatch, client, holder, settings):
    monkeypatch.setenv("FACEPASS_RATE_X", "off")
    assert env_rate("FACEPASS_RATE_X", "1/1") is None
    settings.FACEPASS_RATE_REGISTER_IP = None
    for _ in range(3):
        assert _lookup(client, "RL-1", "rita@example.org").status_code == 302

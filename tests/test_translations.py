"""The Spanish catalogue (locale/es) is complete, compiled and current, and pages speak the
language the browser asks for. A string marked in the code but missing from the catalogue, left
untranslated or not compiled fails here: no future string ships English-only."""

from __future__ import annotations

import ast
import gettext
import re
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from attendees.registration_links import registration_path
from attendees.services import ticket_holder_create
from common.reasons import Reason, reason_text
from pages.management.commands.makemessages import IGNORED
from tests.conftest import REPO_ROOT

PO = REPO_ROOT / "locale" / "es" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
FIX = "run `python manage.py makemessages -l es`, translate, `python manage.py compilemessages`"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\}")


def po_entries(path: Path) -> list[dict]:
    """The entries of a .po file: msgid, msgid_plural, msgstr (a dict by plural index), flags."""
    entries = []
    for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
        entry: dict = {"msgid_plural": None, "msgstr": {}, "flags": set(), "obsolete": False}
        field = None
        for line in block.splitlines():
            if line.startswith("#~"):
                entry["obsolete"] = True
            elif line.startswith("#,"):
                entry["flags"].update(flag.strip() for flag in line[2:].split(","))
            elif line.startswith("#"):
                continue
            elif match := re.match(
                r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?) (\".*\")$", line
            ):
                name, index, value = (
                    match.group(1),
                    match.group(2),
                    ast.literal_eval(match.group(3)),
                )
                if name.startswith("msgstr"):
                    field = ("msgstr", int(index or 0))
                    entry["msgstr"][field[1]] = value
                else:
                    field = (name, None)
                    entry[name] = value
            elif line.startswith('"') and field is not None:
                if field[0] == "msgstr":
                    entry["msgstr"][field[1]] += ast.literal_eval(line)
                else:
                    entry[field[0]] += ast.literal_eval(line)
        if "msgid" in entry:
            entries.append(entry)
    return entries


def messages(path: Path) -> list[dict]:
    return [e for e in po_entries(path) if e["msgid"] and not e["obsolete"]]


def test_every_entry_of_the_spanish_catalogue_is_translated_and_keeps_its_placeholders():
    entries = messages(PO)
    assert len(entries) > 100
    untranslated = [e["msgid"] for e in entries if not all(e["msgstr"].values())]
    fuzzy = [e["msgid"] for e in entries if "fuzzy" in e["flags"]]
    assert not untranslated, f"untranslated in {PO.name}: {untranslated}; {FIX}"
    assert not fuzzy, f"fuzzy (unchecked) in {PO.name}: {fuzzy}"
    for entry in entries:
        wanted = sorted(PLACEHOLDER.findall(entry["msgid_plural"] or entry["msgid"]))
        for text in entry["msgstr"].values():
            assert sorted(PLACEHOLDER.findall(text)) == wanted, (entry["msgid"], text)


def test_the_compiled_catalogue_holds_exactly_what_the_po_file_says():
    assert MO.exists(), f"{MO} is missing: {FIX}"
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
    expected = {}
    for entry in messages(PO):
        if entry["msgid_plural"] is None:
            expected[entry["msgid"]] = entry["msgstr"][0]
        else:
            for index, text in entry["msgstr"].items():
                expected[(entry["msgid"], index)] = text
    compiled = {key: value for key, value in compiled.items() if key != ""}
    assert compiled == expected, f"{MO.name} is older than {PO.name}: {FIX}"


@pytest.mark.skipif(not shutil.which("xgettext"), reason="gettext (xgettext) is not installed")
def test_every_string_marked_in_the_code_is_in_the_catalogue(tmp_path, settings, monkeypatch):
    # A fresh extraction into tmp_path. makemessages writes into any locale/ in the directory
    # it runs from, so it runs in a mirror of the repository without locale/ (symlinks).
    mirror, out = tmp_path / "src", tmp_path / "src" / "extracted"
    out.mkdir(parents=True)
    for entry in REPO_ROOT.iterdir():
        if entry.name not in {"locale", ".git", *IGNORED}:
            (mirror / entry.name).symlink_to(entry)
    settings.LOCALE_PATHS = [out]
    monkeypatch.chdir(mirror)
    call_command("makemessages", locale=["es"], symlinks=True, verbosity=0)
    fresh = out / "es" / "LC_MESSAGES" / "django.po"
    marked = {(e["msgid"], e["msgid_plural"]) for e in messages(fresh)}
    catalogue = {(e["msgid"], e["msgid_plural"]) for e in messages(PO)}
    assert sorted(marked - catalogue) == [], f"marked but not in {PO.name}: {FIX}"
    assert sorted(catalogue - marked) == [], f"in {PO.name} but no longer in the code: {FIX}"


@pytest.fixture
def holder(event_a):
    return ticket_holder_create(event=event_a, ticket_code="ES-1", name="Lucía", email="l@x.co")


def test_the_registration_page_speaks_spanish_when_the_browser_asks_for_it(client, holder):
    page = client.get(registration_path(holder), HTTP_ACCEPT_LANGUAGE="es-CO,es;q=0.9").content
    text = page.decode()
    assert '<html lang="es">' in text
    assert "Consentimiento para el tratamiento de datos biométricos" in text
    assert "Acepto el tratamiento de los datos de mi rostro" in text
    assert "Consent to biometric processing" not in text
    english = client.get(registration_path(holder), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert "Consent to biometric processing" in english.content.decode()


def test_without_a_stated_language_the_site_speaks_spanish(client, holder, settings):
    settings.LANGUAGE_CODE = "es"  # the real default; the test suite otherwise pins English
    text = client.get(reverse("attendees:start")).content.decode()
    assert "Registre su rostro para entrar" in text and '<html lang="es">' in text


def test_the_language_switcher_wins_over_the_browser_and_returns_to_the_page(client, holder):
    page = registration_path(holder)
    switched = client.post(reverse("set_language"), {"language": "en", "next": page})
    assert switched.status_code == 302 and switched["Location"] == page
    text = client.get(page, HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Consent to biometric processing" in text
    assert 'name="language" value="es"' in text  # the way back to Spanish


def test_reason_texts_shown_to_attendees_are_translated():
    with translation.override("es"):
        assert reason_text(Reason.NO_FACE, advice=True).startswith("No encontramos un rostro")

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _import_settings(**env_overrides) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_overrides}
    code = "import django; django.setup(); print('ok')"
    env["DJANGO_SETTINGS_MODULE"] = "facepass_site.settings"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )


def test_settings_load_with_the_test_environment():
    assert _import_settings().stdout.strip() == "ok"


def test_a_bad_boolean_names_the_variable():
    result = _import_settings(DEBUG="perhaps")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "DEBUG" in result.stderr


def test_a_database_url_of_the_wrong_scheme_is_refused():
    result = _import_settings(DATABASE_URL="mysql://root@localhost/x")
    assert "DATABASE_URL must be a URL starting with postgres://" in result.stderr


def test_a_missing_secret_key_is_refused_when_debug_is_off():
    result = _import_settings(DEBUG="0", SECRET_KEY="")
    assert "SECRET_KEY must be set" in result.stderr


def test_private_media_inside_public_media_is_refused(tmp_path):
    result = _import_settings(
        MEDIA_ROOT=str(tmp_path), FACEPASS_PRIVATE_MEDIA_ROOT=str(tmp_path / "private")
    )
    assert "FACEPASS_PRIVATE_MEDIA_ROOT must not be inside MEDIA_ROOT" in result.stderr

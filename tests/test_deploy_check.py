"""`manage.py check --deploy` is clean with production settings, which come from the
environment only: HTTPS hardening switched on by FACEPASS_HTTPS, secrets never in the code."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "FACEPASS_HTTPS": "1",
    "ALLOWED_HOSTS": "facepass.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://facepass.example.org",
}


def _run(args: list[str], **env) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **env, "DJANGO_SETTINGS_MODULE": "facepass_site.settings"}
    for name, value in env.items():
        if value is None:
            full_env.pop(name, None)
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, env=full_env, capture_output=True, text=True, timeout=120
    )


def _deploy_check(**env) -> subprocess.CompletedProcess:
    return _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **env)


def _settings(names: list[str], **env) -> dict[str, str]:
    code = "import django; django.setup(); from django.conf import settings as s; " + "; ".join(
        f"print({name!r}, repr(getattr(s, {name!r}, None)))" for name in names
    )
    result = _run(["-c", code], **env)
    assert result.returncode == 0, result.stderr
    return dict(line.split(" ", 1) for line in result.stdout.splitlines())


def test_the_deploy_check_is_clean_with_production_settings():
    result = _deploy_check(**PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout + result.stderr


def test_the_deploy_check_fails_until_https_is_switched_on():
    result = _deploy_check(**{**PRODUCTION, "FACEPASS_HTTPS": "0"})
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr + result.stdout


def test_the_deploy_check_fails_with_a_weak_secret_key_or_debug_on():
    weak = _deploy_check(**{**PRODUCTION, "SECRET_KEY": "short"})
    assert weak.returncode != 0 and "security.W009" in weak.stderr + weak.stdout
    debug = _deploy_check(**{**PRODUCTION, "DEBUG": "1"})
    assert debug.returncode != 0 and "security.W018" in debug.stderr + debug.stdout


def test_https_settings_follow_facepass_https_and_local_runs_stay_on_http():
    names = [
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "SECURE_PROXY_SSL_HEADER",
    ]
    on = _settings(names, **PRODUCTION)
    assert on["SECURE_SSL_REDIRECT"] == on["SESSION_COOKIE_SECURE"] == "True"
    assert on["CSRF_COOKIE_SECURE"] == "True" and int(on["SECURE_HSTS_SECONDS"]) >= 31536000
    assert on["SECURE_PROXY_SSL_HEADER"] == "None"  # no proxy declared: the header is the client's
    off = _settings(names, DEBUG="1", FACEPASS_HTTPS=None)  # `make run`
    assert off["SECURE_SSL_REDIRECT"] == off["SESSION_COOKIE_SECURE"] == "False"
    assert off["SECURE_HSTS_SECONDS"] == "0"
    proxied = _settings(names, **PRODUCTION, FACEPASS_TRUSTED_PROXIES="1")
    assert proxied["SECURE_PROXY_SSL_HEADER"] == "('HTTP_X_FORWARDED_PROTO', 'https')"


def test_settings_refuse_to_start_without_a_secret_key_from_the_environment():
    for value in (None, "", "dev-only-insecure-key"):
        result = _run(["manage.py", "check"], DEBUG="0", SECRET_KEY=value)
        assert result.returncode != 0
        assert "SECRET_KEY must be set in the environment" in result.stderr


def test_no_secret_is_written_in_the_settings():
    source = (REPO / "facepass_site" / "settings.py").read_text()
    assignments = re.findall(
        r"^\s*([A-Z_]*(?:SECRET_KEY|SECRET|PASSWORD|TOKEN))\s*=\s*(.+)$", source, re.M
    )
    assert any(name == "SECRET_KEY" for name, _ in assignments)
    for name, value in assignments:
        assert value.startswith(("env_", "_DEV_SECRET_KEY")) or name == "_DEV_SECRET_KEY", name
    assert "postgres://" not in re.sub(r'"postgres://postgres@127\.0\.0\.1[^"]*"', "", source)

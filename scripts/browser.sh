#!/usr/bin/env bash
# Make Debian's Chromium available for the browser tests (tests/browser/).
#
# The tests drive /usr/bin/chromium through the PyPI playwright client; `playwright install`
# is never used, so CI on a clean Debian machine gets its browser from apt here.
# FACEPASS_CHROMIUM points the tests at another binary and skips the install.
set -euo pipefail

CHROMIUM="${FACEPASS_CHROMIUM:-/usr/bin/chromium}"

say() { echo "[browser] $*" >&2; }
die() { echo "[browser] ERROR: $*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "need root for: $*"; fi; }

[ -x "$CHROMIUM" ] && exit 0
[ -z "${FACEPASS_CHROMIUM:-}" ] || die "FACEPASS_CHROMIUM=$CHROMIUM is not an executable."
command -v apt-get >/dev/null || die "Chromium is missing and this is not a Debian system: install chromium at $CHROMIUM."
say "installing Debian's chromium (browser tests)"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
[ -x "$CHROMIUM" ] || die "apt-get installed chromium but $CHROMIUM is still missing."
say "chromium: $("$CHROMIUM" --version 2>/dev/null || echo unknown version)"

#!/usr/bin/env bash
# What `make test-browser` needs besides make test's: Debian's Chromium and its driver, and
# Selenium in .build/venv. Installs only what is missing.
set -euo pipefail
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "browser-env: installing chromium and chromium-driver"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver
fi
if ! .build/venv/bin/python -c "import selenium" 2>/dev/null; then
    echo "browser-env: installing selenium into .build/venv"
    .build/venv/bin/pip install -q --disable-pip-version-check "selenium>=4.20,<5"
fi

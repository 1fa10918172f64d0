#!/usr/bin/env bash
# Makes .build/havenv: Home Assistant (pinned) on Python 3.13, for `make test-homeassistant`,
# once; later runs reuse it. Home Assistant needs Python 3.13; pyenv provides it on these
# machines (Debian 12's own python3 is 3.11). The integrations Home Assistant loads at every
# start (frontend, backup, hardware, network, cloud) and MQTT's client are installed here, so
# that its first start installs nothing.
set -euo pipefail
venv=.build/havenv
version=2025.4.4
if [ -x "$venv/bin/hass" ] && [ "$("$venv/bin/python" -c 'import homeassistant.const as c; print(c.__version__)' 2>/dev/null)" = "$version" ]; then
    exit 0
fi
python=""
for candidate in "$(PYENV_VERSION=3.13.0 command -v python3.13 2>/dev/null || true)" \
    "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3.13 /usr/bin/python3.13 /usr/local/bin/python3.13; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
        python=$candidate
        break
    fi
done
if [ -z "$python" ]; then
    echo "homeassistant-env: Home Assistant $version needs Python 3.13 and none was found;" >&2
    echo "  install it (pyenv install 3.13.0) and run make test-homeassistant again" >&2
    exit 1
fi
echo "homeassistant-env: creating $venv with Home Assistant $version on $python (about 3 min)"
rm -rf "$venv"
PYENV_VERSION=3.13.0 "$python" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "homeassistant==$version" "paho-mqtt==2.1.0" \
    "home-assistant-frontend==20250411.0" "cronsim==2.6" "securetar==2025.2.1" "psutil-home-assistant==0.0.1" \
    "ifaddr==0.2.0" "hass-nabucasa==0.94.0"

#!/usr/bin/env bash
# Makes .build/venv with what the integration tests use (paho-mqtt, the AWS IoT Device SDK for
# Python v2, pytest), once; later runs reuse it.
set -euo pipefail
venv=.build/venv
if [ ! -x "$venv/bin/pytest" ] || ! "$venv/bin/python" -c "import paho.mqtt, awsiot, pytest" 2>/dev/null; then
    echo "python-env: creating $venv with paho-mqtt, awsiotsdk, pytest"
    if ! python3 -m venv "$venv" 2>/dev/null; then
        echo "python-env: python3 -m venv failed; installing python3-venv"
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv
        rm -rf "$venv"
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q --disable-pip-version-check "paho-mqtt>=2,<3" "awsiotsdk>=1.20,<2" "pytest>=7"
fi

#!/usr/bin/env bash
# Makes .build/venv with what the integration tests use (paho-mqtt, the AWS IoT Device SDK for
# Python v2, the AWS CLI and boto3, pytest), once; later runs reuse it.
set -euo pipefail
venv=.build/venv
if [ ! -x "$venv/bin/pytest" ] || [ ! -x "$venv/bin/aws" ] ||
    ! "$venv/bin/python" -c "import paho.mqtt, awsiot, boto3, pytest" 2>/dev/null; then
    echo "python-env: creating $venv with paho-mqtt, awsiotsdk, awscli, boto3, pytest"
    if ! python3 -m venv "$venv" 2>/dev/null; then
        echo "python-env: python3 -m venv failed; installing python3-venv"
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv
        rm -rf "$venv"
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q --disable-pip-version-check "paho-mqtt>=2,<3" "awsiotsdk>=1.20,<2" "pytest>=7" \
        "awscli>=1.40,<2" "boto3>=1.40,<2"
fi

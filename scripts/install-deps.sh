#!/usr/bin/env bash
# Installs the Debian packages homehub builds, runs and tests with, when they are missing.
# Idempotent: a package already installed is left alone. Says what it does.
set -euo pipefail

packages=(
    libsqlite3-dev      # HubStore
    libmosquitto-dev    # HubMQTT
    mosquitto-dev       # the broker plugin's headers (Sources/HubBrokerPlugin)
    mosquitto           # the broker homehubd embeds, and the tests' broker
    mosquitto-clients   # mosquitto_pub/sub in the integration tests
    libsystemd-dev      # sd_notify, socket activation, journald
    libssl-dev          # device certificates
    curl                # REST tests over the Unix socket
    openssl             # test CA and client certificates
    python3             # integration tests (paho-mqtt, the AWS IoT Device SDK)
    python3-venv
    procps              # pgrep in the integration tests
    tzdata              # IANA time zones for schedules
    debhelper           # make deb
    dpkg-dev
    lintian             # make package-test
    systemd             # systemd-analyze verify/security, systemd-sysusers in the install test
    iproute2            # the install test's private network namespace
    systemd-container   # systemd-nspawn: the package test boots a real systemd
    debootstrap         # the Debian 12 root that container boots
)

missing=()
for package in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all Debian packages present"
else
    echo "install-deps: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The system broker that Debian's mosquitto package starts is not ours; homehub never uses
# port 1883 and starts its own broker, so it is left as it is.

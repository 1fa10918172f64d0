#!/bin/bash
# Runs inside the nspawn container (see systemd-test.sh), with systemd as PID 1: install, the
# units at work (notify, watchdog, restart after a crash, socket activation), an unlock, a quiet
# journal, an orderly stop, upgrade, purge. Each check says what it checked; the first failure
# stops the test and prints the journal.
set -uo pipefail
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8
deb=$(ls /pkg/homehub_*.deb | head -1)
upgrade=$(ls /pkg/upgrade/homehub_*.deb | head -1)
mkdir -p /root/homehub-test && cd /root/homehub-test

pass() { echo "systemd-test: ok: $*"; }
fail() {
    echo "systemd-test: FAIL: $*" >&2
    journalctl -b --no-pager -n 80 -o short-monotonic >&2
    exit 1
}
check() { local what=$1; shift; "$@" || fail "$what"; pass "$what"; }
# Polls `command` until it succeeds or `seconds` pass (a deadline, not a pause).
within() {
    local seconds=$1; shift
    local deadline=$((SECONDS + seconds))
    until "$@"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}
cursor() { journalctl -n0 --show-cursor --no-pager | sed -n 's/^-- cursor: //p'; }
since() { journalctl --after-cursor="$1" --no-pager -o cat "${@:2}"; }
ready() { hubctl status 2> /dev/null | grep -q "ready: true"; }
restarts() { systemctl show -p NRestarts --value homehubd; }
main_pid() { systemctl show -p MainPID --value homehubd; }

apt-get update -qq > /dev/null 2>&1 || fail "apt-get update in the container"
# The checks' MQTT client (mosquitto_pub), installed before the package so that the package's
# own dependency on mosquitto is what the install pulls in.
apt-get install -y -qq --no-install-recommends mosquitto-clients > /dev/null 2>&1 || fail "installing mosquitto-clients"
start=$(cursor)

# --- install: the first start succeeds ---------------------------------------------------------
apt-get install -y --no-install-recommends "$deb" > apt-install.log 2>&1 || { cat apt-install.log >&2; fail "apt-get install"; }
pass "apt-get install $deb"
check "apt said nothing alarming" sh -c "! grep -i -E 'error|could not execute|failed' apt-install.log"
check "homehubd is active after the install" within 30 systemctl is-active --quiet homehubd
check "no failed unit" test -z "$(systemctl --failed --no-legend --plain)"
check "the control socket is homehub:homehub 0660 as the socket unit says" \
    test "$(stat -c '%U:%G %a' /run/homehub/hubctl.sock)" = "homehub:homehub 660"
check "the first start was the only start (no restart after a failed one)" test "$(restarts)" = 0
check "the hub is ready: serving, broker connected" within 30 ready
check "hubctl unlock frontdoor --wait succeeds (root is sensitive)" within 30 hubctl unlock frontdoor --wait
check "the database (it holds SigV4 secrets) is the hub's alone: 600" \
    test "$(stat -c '%a %U' /var/lib/homehub/hub.db)" = "600 homehub"
check "hubctl set livingroom targetTemperature=22.5" hubctl set livingroom targetTemperature=22.5
check "an account outside the homehub group cannot reach the socket" \
    sh -c "! setpriv --reuid=nobody --regid=nogroup --clear-groups hubctl status 2>&1 | grep -q 'ready'"
password=$(cat /etc/homehub/mqtt-device-password)
check "a device logs in with the generated password (the application 'device')" \
    mosquitto_pub -h 127.0.0.1 -p 1884 -u device -P "$password" -q 1 -t '$aws/things/porch/shadow/update' \
    -m '{"state":{"reported":{"on":true}}}'
check "an anonymous device is refused" \
    sh -c "! mosquitto_pub -h 127.0.0.1 -p 1884 -q 1 -t '\$aws/things/porch/shadow/update' -m '{}' 2>/dev/null"
check "journald records carry structured fields (DEVICE, COMMAND_ID)" \
    sh -c "journalctl -u homehubd DEVICE=frontdoor -o json --no-pager | grep -q COMMAND_ID"
check "the broker's access plugin is loaded" sh -c "grep -q '^plugin /usr/lib/homehub/libhomehub-broker-plugin.so' /var/lib/homehub/mosquitto.conf"

# --- a quiet journal ---------------------------------------------------------------------------
check "no error-level line from homehubd or its children" test -z "$(since "$start" -u homehubd -p err)"
check "no foreign notify message (mosquitto does not inherit NOTIFY_SOCKET)" \
    sh -c "! journalctl -b --no-pager | grep -q 'reception only permitted for main PID'"
check "no thread-priority noise from libdispatch" \
    sh -c "! journalctl -b --no-pager | grep -q 'Failed to set thread priority'"
check "one broker: Debian's mosquitto.service is stopped and disabled" \
    sh -c "! systemctl is-active --quiet mosquitto.service && ! systemctl is-enabled --quiet mosquitto.service"
check "mosquitto's lines are tagged mosquitto in the journal" \
    sh -c "journalctl -b -t mosquitto --no-pager -o cat | grep -q -i 'mosquitto version'"

# --- the units at work -------------------------------------------------------------------------
check "the watchdog is armed" test "$(systemctl show -p WatchdogUSec --value homehubd)" != "0"
before=$(restarts)
kill -9 "$(main_pid)"
check "kill -9: systemd restarts homehubd" within 30 sh -c "[ \$(systemctl show -p NRestarts --value homehubd) -gt $before ]"
check "ready again after the crash" within 30 ready
before=$(restarts)
frozen=$(main_pid)
kill -STOP "$frozen"
check "a hung homehubd (SIGSTOP): the watchdog restarts it" \
    within 75 sh -c "[ \$(systemctl show -p NRestarts --value homehubd) -gt $before ]"
check "ready again after the watchdog" within 30 ready

# --- an orderly stop, then socket activation ---------------------------------------------------
stop=$(cursor)
systemctl stop homehubd
check "homehubd stopped" sh -c "! systemctl is-active --quiet homehubd"
check "an ordinary stop reports no plugin as failed or restarting" \
    sh -c "! journalctl --after-cursor='$stop' --no-pager -o cat | grep -E 'restarting in|process killed by signal'"
check "the socket is still listening" systemctl is-active --quiet homehubd.socket
check "hubctl status starts homehubd through the socket" within 60 ready
check "homehubd was started by the socket" systemctl is-active --quiet homehubd

# --- exposure ----------------------------------------------------------------------------------
exposure=$(systemd-analyze security homehubd.service --no-pager 2> /dev/null | sed -n 's/.*Overall exposure level for homehubd.service: \([0-9.]*\).*/\1/p')
check "systemd-analyze security: exposure $exposure, at most 1.1" awk "BEGIN { exit !($exposure <= 1.1) }"

# --- upgrade, reinstall, purge -----------------------------------------------------------------
upgrade_start=$(cursor)
apt-get install -y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$upgrade" \
    > apt-upgrade.log 2>&1 || { cat apt-upgrade.log; fail "apt-get install (upgrade)"; }
check "upgrade: apt said nothing alarming" sh -c "! grep -i -E 'error|could not execute|failed' apt-upgrade.log"
check "upgrade: homehubd active and ready" within 30 ready
check "upgrade: the data survived (desired targetTemperature 22.5)" \
    sh -c "hubctl shadow get livingroom --name climate --json | grep -q '\"targetTemperature\":22.5'"
check "upgrade: no failed unit" test -z "$(systemctl --failed --no-legend --plain)"
apt-get install -y --reinstall -o Dpkg::Options::=--force-confold "$upgrade" > apt-reinstall.log 2>&1 ||
    { cat apt-reinstall.log; fail "apt-get install --reinstall"; }
check "reinstall: apt said nothing alarming" sh -c "! grep -i -E 'error|could not execute|failed' apt-reinstall.log"
check "reinstall: homehubd active and ready" within 30 ready
check "upgrade and reinstall: no error-level line from homehubd" test -z "$(since "$upgrade_start" -u homehubd -p err)"

apt-get purge -y homehub > apt-purge.log 2>&1 || { cat apt-purge.log; fail "apt-get purge"; }
check "purge: homehubd gone" sh -c "! systemctl is-active --quiet homehubd && ! test -e /usr/sbin/homehubd"
check "purge: /var/lib/homehub and /etc/homehub gone" sh -c "! test -e /var/lib/homehub && ! test -e /etc/homehub"
check "purge: no failed unit" test -z "$(systemctl --failed --no-legend --plain)"

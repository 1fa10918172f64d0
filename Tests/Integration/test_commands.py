"""Long-running commands end to end: through the door-lock plugin with hubctl --wait, through
an MQTT device with desired.command and cmd/THING/response, and across crashes."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from conftest import HUBCTL, Device, Hub, external_config, hubctl, wait_for
from test_plugins import FAST, stage, things

GATE_TYPE = {"id": "test.gate", "name": "MQTT gate", "version": "1", "hubApi": {"min": 1, "max": 1},
             "deviceTypes": {"gate": {"shadows": [{"name": "gate", "attributes": {"open": {"type": "boolean"}}}],
                                      "commands": {"open": {"timeoutSeconds": 20, "heartbeatSeconds": 0.5}}}}}


def prepare(plugins):
    (plugins / "gate").mkdir()
    (plugins / "gate/manifest.json").write_text(json.dumps(GATE_TYPE))


def command_hub(directory, broker, extra=""):
    plugins = directory / "plugins"
    stage(plugins)
    prepare(plugins)
    config = external_config(directory, broker).replace("[plugins]\ndirs = []\n", f'[plugins]\ndirs = ["{plugins}"]\n{FAST}')
    return Hub(directory, config + extra + things(
        ("frontdoor", "doorlock", {"moveSeconds": 0.4, "readBackSeconds": 0.05}),
        ("blind", "motor", {"speedPercentPerSecond": 5.0, "tickSeconds": 0.2}),
        ("gate", "gate", {})))


@pytest.fixture
def hub(tmp_path, broker):
    instance = command_hub(tmp_path, broker)
    wait_for(lambda: instance.request("GET", "/things/frontdoor/shadow?name=lock")[2].get("state", {})
             .get("reported", {}).get("lockState") == "locked", what="the lock read back")
    yield instance
    instance.stop()



def ledger(hub, command_id):
    return hub.request("GET", f"/v1/commands/{command_id}")[2]


def test_unlock_wait_shows_progress_and_succeeds(hub):
    result = hubctl(hub, "unlock", "frontdoor", "--wait")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "RUNNING" in result.stdout and lines[-1].startswith("SUCCEEDED")
    assert hub.request("GET", "/things/frontdoor/shadow?name=lock")[2]["state"]["reported"]["lockState"] == "unlocked"
    final = json.loads(hubctl(hub, "lock", "frontdoor", "--wait", "--json").stdout.splitlines()[-1])
    assert final["state"] == "SUCCEEDED" and [t["state"] for t in final["transitions"]][:2] == ["QUEUED", "SENT"]
    audit = json.loads(hubctl(hub, "audit", "--json", "--thing", "frontdoor").stdout)["entries"]
    assert [e["action"] for e in audit] == ["POST /v1/things/frontdoor/commands (unlock)",
                                            "POST /v1/things/frontdoor/commands (lock)"]


def test_a_jammed_lock_fails_then_rejects(hub):
    assert hubctl(hub, "things", "add", "frontdoor", "--type", "doorlock", "simulateJam=true", "moveSeconds=0.2").returncode == 0
    jammed = hubctl(hub, "unlock", "frontdoor", "--wait")
    assert jammed.returncode == 10 and "FAILED: the bolt jammed" in jammed.stdout
    refused = hubctl(hub, "unlock", "frontdoor", "--wait")
    assert refused.returncode == 13 and "REJECTED: the lock is jammed" in refused.stdout


def test_idempotency_key_returns_the_first_command(hub):
    first = json.loads(hubctl(hub, "cmd", "blind", "move", "position=2", "--idempotency-key", "k-1", "--json").stdout)
    again = json.loads(hubctl(hub, "cmd", "blind", "move", "position=2", "--idempotency-key", "k-1", "--json").stdout)
    assert first["id"] == again["id"]
    assert len(hub.request("GET", "/v1/commands?thing=blind")[2]["commands"]) == 1


def test_invalid_parameters_and_unknown_commands(hub):
    bad = hubctl(hub, "cmd", "blind", "move", "position=150", "--wait")
    assert bad.returncode == 13 and "parameter 'position' of command 'move' must be between 0 and 100" in bad.stdout
    unknown = hubctl(hub, "cmd", "blind", "fly")
    assert unknown.returncode == 5 and "motor 'blind' has no command 'fly'" in unknown.stderr


def test_mqtt_device_runs_a_command_through_desired_and_the_response_topic(hub, broker):
    device = Device(broker.port, "gate")
    try:
        created = json.loads(hubctl(hub, "cmd", "gate", "open", "--json").stdout)
        delta = device.expect("update/delta")
        entry = delta["state"]["command"][0]
        assert entry["commandId"] == created["id"] and entry["command"] == "open" and entry["ttl"] > 0
        for percent in (25, 75):
            device.publish("cmd/gate/response", {"commandId": entry["commandId"], "status": "RUNNING", "progress": percent})
        wait_for(lambda: ledger(hub, entry["commandId"])["state"] == "RUNNING", what="RUNNING")
        device.publish("cmd/gate/response", {"commandId": entry["commandId"], "status": "SUCCEEDED", "message": "open"})
        wait_for(lambda: ledger(hub, entry["commandId"])["state"] == "SUCCEEDED", what="SUCCEEDED")
        # The ended command leaves desired, so that it is not replayed on reconnect.
        wait_for(lambda: "command" not in hub.request("GET", "/things/gate/shadow")[2]["state"].get("desired", {}),
                 what="desired.command to be cleared")
    finally:
        device.close()


def test_mqtt_device_that_goes_silent_times_out(hub, broker):
    device = Device(broker.port, "gate")
    try:
        created = json.loads(hubctl(hub, "cmd", "gate", "open", "--json").stdout)
        device.publish("cmd/gate/response", {"commandId": created["id"], "status": "RUNNING"})
        wait_for(lambda: ledger(hub, created["id"])["state"] == "TIMED_OUT", what="TIMED_OUT")
        assert ledger(hub, created["id"])["transitions"][-1]["reason"].startswith("heartbeat_missed")
        # A result after the end is recorded, never applied.
        device.publish("cmd/gate/response", {"commandId": created["id"], "status": "SUCCEEDED"})
        wait_for(lambda: "lateResult" in ledger(hub, created["id"]), what="the late result to be recorded")
        assert ledger(hub, created["id"])["state"] == "TIMED_OUT"
    finally:
        device.close()


def test_ttl_expires_while_the_device_is_offline(hub):
    result = hubctl(hub, "cmd", "gate", "open", "--ttl", "0.5", "--wait")
    assert result.returncode == 12 and "EXPIRED" in result.stdout
    wait_for(lambda: "command" not in hub.request("GET", "/things/gate/shadow")[2]["state"].get("desired", {}),
             what="desired.command to be cleared")


def test_a_plugin_killed_mid_command_ends_it_timed_out(hub):
    created = json.loads(hubctl(hub, "cmd", "blind", "move", "position=100", "--json").stdout)
    wait_for(lambda: ledger(hub, created["id"])["state"] == "RUNNING", what="the move to run")
    motor = next(p for p in hub.request("GET", "/v1/plugins")[2]["plugins"] if p["id"] == "homehub.motor")
    os.kill(motor["pid"], signal.SIGKILL)
    wait_for(lambda: ledger(hub, created["id"])["state"] == "TIMED_OUT", what="TIMED_OUT after the heartbeats stop")


def test_hub_killed_mid_command_leaves_a_truthful_ledger(tmp_path, broker, hub):
    created = json.loads(hubctl(hub, "cmd", "blind", "move", "position=100", "--json").stdout)
    wait_for(lambda: ledger(hub, created["id"])["state"] == "RUNNING", what="the move to run")
    hub.signal(signal.SIGKILL)
    hub.process.wait(timeout=10)
    hub.start()
    final = ledger(hub, created["id"])
    assert final["state"] == "FAILED" and final["transitions"][-1]["reason"] == "hub_restarted"
    # Not sent again: no second SENT in its history.
    assert [t["state"] for t in final["transitions"]].count("SENT") == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run hubctl as another user (setpriv)")
def test_unlock_needs_the_sensitive_group_and_every_attempt_is_audited(broker):
    directory = Path(tempfile.mkdtemp(prefix="homehub-sensitive-", dir="/tmp"))
    directory.chmod(0o755)
    binary = directory / "hubctl"
    shutil.copy(HUBCTL, binary)
    binary.chmod(0o755)
    policy = '[policy]\nread_groups = ["nogroup"]\nwrite_groups = ["nogroup"]\nsensitive_groups = ["homehub-admin"]\n'
    hub = command_hub(directory, broker, policy)
    try:
        hub.config.write_text(hub.config.read_text().replace("[hub]\n", '[hub]\nsocket_group = "nogroup"\n'))
        hub.stop()
        hub.start()
        wait_for(lambda: hub.request("GET", "/things/frontdoor/shadow?name=lock")[2].get("state", {})
                 .get("reported", {}).get("lockState") == "locked", what="the lock read back")
        assert hubctl(hub, "lock", "frontdoor", "--wait", user="nobody", binary=binary).returncode == 0
        denied = hubctl(hub, "unlock", "frontdoor", "--wait", user="nobody", binary=binary)
        assert denied.returncode == 4 and \
            "may not run the sensitive command 'unlock' on 'frontdoor': needs group 'homehub-admin'" in denied.stderr
        assert hub.request("GET", "/things/frontdoor/shadow?name=lock")[2]["state"]["reported"]["lockState"] == "locked"
        entries = hub.request("GET", "/v1/audit?thing=frontdoor")[2]["entries"]
        assert [(e["user"], e["action"].split()[-1], e["result"]) for e in entries] == [
            ("nobody", "(lock)", 201), ("nobody", "(unlock)", 403)]
    finally:
        hub.stop()
        shutil.rmtree(directory, ignore_errors=True)

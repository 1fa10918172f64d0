"""hubctl end to end: the built binary against the built homehubd on a temporary socket."""
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from conftest import HUBCTL, ROOT, Device, Hub, external_config, hubctl, wait_for



def test_status_and_things_lifecycle(hub):
    result = hubctl(hub, "status")
    assert result.returncode == 0 and "broker:   connected" in result.stdout
    status = json.loads(hubctl(hub, "status", "--json").stdout)
    assert status["ready"] is True and status["counts"]["things"] == 0

    assert hubctl(hub, "things", "add", "livingroom", "--type", "heater", "room=living", "floor=1").returncode == 0
    listed = json.loads(hubctl(hub, "things", "list", "--json").stdout)["things"]
    assert [(t["name"], t["type"], t["config"]) for t in listed] == [("livingroom", "heater", {"room": "living", "floor": 1})]
    table = hubctl(hub, "things", "list").stdout.splitlines()
    assert table[0].split() == ["NAME", "TYPE", "PLUGIN", "SHADOWS", "REGISTERED"] and table[1].startswith("livingroom")

    shown = json.loads(hubctl(hub, "things", "show", "livingroom", "--json").stdout)
    assert shown["registered"] is True and shown["type"] == "heater" and shown["shadows"] == []
    assert hubctl(hub, "things", "rm", "livingroom").returncode == 0
    missing = hubctl(hub, "things", "rm", "livingroom")
    assert missing.returncode == 5 and "no registered thing named 'livingroom'" in missing.stderr
    assert hubctl(hub, "things", "add", "bad name").returncode == 1


def test_set_and_shadow_commands_type_values(hub):
    assert hubctl(hub, "set", "lamp", "on=true", "level=21", "label=\"21\"", "mode=eco", "lights.color=red").returncode == 0
    document = json.loads(hubctl(hub, "shadow", "get", "lamp", "--json").stdout)
    assert document["state"]["desired"] == {"on": True, "level": 21, "label": "21", "mode": "eco",
                                            "lights": {"color": "red"}}
    update = hubctl(hub, "shadow", "update", "lamp", "--reported", "on=true", "level=21.0", "--json")
    assert update.returncode == 0 and json.loads(update.stdout)["version"] == 2
    people = hubctl(hub, "shadow", "get", "lamp").stdout
    assert "ATTRIBUTE" in people and "pending" in people  # label, mode, lights.color are still pending
    named = hubctl(hub, "shadow", "update", "lamp", "--name", "cfg", "--desired", "interval=30")
    assert named.returncode == 0
    doc = Path(hub.directory) / "doc.json"
    doc.write_text(json.dumps({"state": {"reported": {"interval": 30}}}))
    assert hubctl(hub, "shadow", "update", "lamp", "--name", "cfg", "--file", str(doc)).returncode == 0
    conflict = hubctl(hub, "shadow", "update", "lamp", "--name", "cfg", "--desired", "x=1", "--version", "1")
    assert conflict.returncode == 1 and "Version conflict" in conflict.stderr
    assert hubctl(hub, "shadow", "delete", "lamp", "--name", "cfg").returncode == 0
    gone = hubctl(hub, "shadow", "get", "lamp", "--name", "cfg")
    assert gone.returncode == 5 and "No shadow exists with name: 'lamp~cfg'" in gone.stderr


def test_exit_codes_for_usage_and_no_hub(hub, tmp_path):
    assert hubctl(hub, "shadow", "update", "lamp").returncode == 64
    assert hubctl(hub, "set", "lamp", "novalue").returncode == 64
    nowhere = subprocess.run([str(HUBCTL), "--socket", str(tmp_path / "none.sock"), "status"], capture_output=True,
                             text=True)
    assert nowhere.returncode == 3 and "cannot connect to the hub" in nowhere.stderr


def test_socket_from_the_environment(hub):
    env = dict(os.environ, HUBCTL_SOCKET=str(hub.socket))
    result = subprocess.run([str(HUBCTL), "status", "--json"], capture_output=True, text=True, env=env)
    assert result.returncode == 0 and json.loads(result.stdout)["ready"] is True


def test_watch_delivers_a_change_made_by_another_client(hub, broker):
    process = subprocess.Popen([str(HUBCTL), "--socket", str(hub.socket), "watch", "--json", "porch"],
                               stdout=subprocess.PIPE, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    try:
        wait_for(lambda: json.loads(hub.request("GET", "/v1/status")[2] and
                                    json.dumps(hub.request("GET", "/v1/status")[2]))["eventSubscribers"] >= 1,
                 what="the watcher to subscribe")
        hub.request("POST", "/things/elsewhere/shadow", {"state": {"desired": {"a": 1}}})
        device = Device(broker.port, "porch")
        device.publish("$aws/things/porch/shadow/update", {"state": {"reported": {"light": "on"}}})
        device.close()
        event = json.loads(lines.get(timeout=10))
        assert event["type"] == "shadow.updated" and event["thing"] == "porch" and event["via"] == "mqtt"
        assert event["state"] == {"reported": {"light": "on"}} and event["version"] == 1
        # A device that goes away: its last will reports connected=false, a connectivity event.
        will = Device(broker.port, "porch")
        will.publish("$aws/things/porch/shadow/update", {"state": {"reported": {"connected": False}}})
        will.close()
        events = [json.loads(lines.get(timeout=10)) for _ in range(2)]
        assert {"type": "device.connectivity", "thing": "porch", "connected": False}.items() <= events[1].items()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_curl_against_the_api_and_metrics(hub):
    out = subprocess.run(["curl", "-s", "--unix-socket", str(hub.socket), "-X", "POST", "http://localhost/v1/things",
                          "-d", '{"name":"cli","type":"motor"}'], capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["name"] == "cli"
    metrics = subprocess.run(["curl", "-s", "--unix-socket", str(hub.socket), "http://localhost/metrics"],
                             capture_output=True, text=True, check=True).stdout
    assert 'homehub_api_requests_total{route="POST v1/things",status="201"} 1' in metrics
    assert "homehub_shadow_commit_seconds_count" not in metrics  # no shadow written yet
    assert hub.request("POST", "/things/cli/shadow", {"state": {"desired": {"a": 1}}})[0] == 200
    metrics = hub.request("GET", "/metrics")[2].decode()
    assert 'homehub_shadow_changes_total{operation="update",via="api"} 1' in metrics
    assert "homehub_shadow_commit_seconds_count 1" in metrics


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run hubctl as another user (setpriv)")
def test_a_caller_outside_the_write_groups_gets_403_and_is_audited(broker):
    # A directory and a copy of hubctl that the unprivileged user can reach.
    directory = Path(tempfile.mkdtemp(prefix="homehub-policy-", dir="/tmp"))
    directory.chmod(0o755)
    binary = directory / "hubctl"
    shutil.copy(HUBCTL, binary)
    binary.chmod(0o755)
    config = external_config(directory, broker,
                             '[policy]\nread_groups = ["nogroup"]\nwrite_groups = ["homehub-writers"]\n'
                             'sensitive_groups = []\n')
    config = config.replace('[hub]\n', '[hub]\nsocket_group = "nogroup"\n')
    hub = Hub(directory, config)
    try:
        assert oct(os.stat(hub.socket).st_mode & 0o777) == "0o660"
        read = hubctl(hub, "things", "list", "--json", user="nobody", binary=binary)
        assert read.returncode == 0, read.stderr
        denied = hubctl(hub, "set", "frontdoor", "lock=unlocked", user="nobody", binary=binary)
        assert denied.returncode == 4
        assert "user 'nobody' (uid 65534) may not change hub state: needs group 'homehub-writers'" \
            in denied.stderr
        assert hub.request("GET", "/things/frontdoor/shadow")[0] == 404
        entries = json.loads(hubctl(hub, "audit", "--json", "--thing", "frontdoor").stdout)["entries"]
        assert [(e["user"], e["uid"], e["result"]) for e in entries] == [("nobody", 65534, 403)]
        assert entries[0]["pid"] > 0 and "homehub-writers" in entries[0]["detail"]
    finally:
        hub.stop()
        shutil.rmtree(directory, ignore_errors=True)

"""Plugins end to end: the bundled simulated devices, the Python example, schema
enforcement, and plugins that crash, hang, flood or write garbage while the hub keeps serving."""
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import HUBCTL, ROOT, Device, Hub, external_config, hubctl, wait_for

HERE = Path(__file__).resolve().parent
FAST = ("ping_seconds = 0.3\nreply_timeout_seconds = 0.5\nrestart_backoff_seconds = 0.05\n"
        "crashes_before_quarantine = 3\n")


def stage(directory):
    subprocess.run([str(ROOT / "scripts/stage-plugins.sh"), str(directory), "debug"], cwd=ROOT, check=True,
                   capture_output=True)


def misbehaving(directory, mode):
    folder = directory / f"bad-{mode}"
    folder.mkdir(parents=True)
    shutil.copy(HERE / "plugins/misbehave.py", folder / "misbehave.py")
    type_name = "probe_" + mode.replace("-", "_")
    (folder / "manifest.json").write_text(json.dumps({
        "id": f"test.{mode}", "name": mode, "version": "1", "hubApi": {"min": 1, "max": 1},
        "executable": "misbehave.py", "arguments": [mode],
        "deviceTypes": {type_name: {"shadows": [{"name": "probe", "attributes": {"value": {"type": "integer"}}}]}}}))
    return type_name


def things(*entries):
    text = ""
    for name, type_name, config in entries:
        text += f'[[things]]\nname = "{name}"\ntype = "{type_name}"\n'
        if config:
            text += "config = { " + ", ".join(f"{k} = {v}" for k, v in config.items()) + " }\n"
    return text


def plugin_hub(tmp_path, broker, extra_things="", prepare=None):
    plugins = tmp_path / "plugins"
    stage(plugins)
    if prepare:
        prepare(plugins)
    config = external_config(tmp_path, broker).replace("[plugins]\ndirs = []\n", f'[plugins]\ndirs = ["{plugins}"]\n{FAST}')
    return Hub(tmp_path, config + extra_things)


def reported(hub, thing, shadow):
    status, _, body = hub.request("GET", f"/things/{thing}/shadow?name={shadow}")
    return body.get("state", {}).get("reported", {}) if status == 200 else {}


def plugin_status(hub, plugin_id):
    return next(p for p in hub.request("GET", "/v1/plugins")[2]["plugins"] if p["id"] == plugin_id)


@pytest.fixture
def demo(tmp_path, broker):
    hub = plugin_hub(tmp_path, broker, things(
        ("livingroom", "heater", {"initialTemperature": 18.0, "degreesPerMinute": 600.0, "tickSeconds": 0.05}),
        ("frontdoor", "doorlock", {"moveSeconds": 0.2, "readBackSeconds": 0.05}),
        ("blind", "motor", {"speedPercentPerSecond": 400.0, "tickSeconds": 0.05}),
        ("lamp", "switch", {})))
    yield hub
    hub.stop()



def test_desired_state_reaches_each_simulated_device_and_reported_follows(demo):
    assert hubctl(demo, "set", "livingroom", "targetTemperature=21.5", "mode=heat").returncode == 0
    assert hubctl(demo, "set", "frontdoor", "lock=unlocked").returncode == 0
    assert hubctl(demo, "set", "blind", "position=60").returncode == 0
    assert hubctl(demo, "set", "lamp", "on=true").returncode == 0
    wait_for(lambda: reported(demo, "livingroom", "climate").get("currentTemperature") == 21.5, what="the room to warm")
    wait_for(lambda: reported(demo, "frontdoor", "lock").get("lockState") == "unlocked", what="the lock to open")
    wait_for(lambda: reported(demo, "blind", "position") == {"position": 60, "direction": "stopped", "moving": False},
             what="the blind to stop at 60")
    wait_for(lambda: reported(demo, "lamp", "power").get("on") is True, what="the Python switch")
    for thing, shadow in [("livingroom", "climate"), ("frontdoor", "lock"), ("blind", "position"), ("lamp", "power")]:
        assert "delta" not in demo.request("GET", f"/things/{thing}/shadow?name={shadow}")[2]["state"], thing
    shown = json.loads(hubctl(demo, "things", "show", "livingroom", "--json").stdout)
    assert shown["primaryShadow"] == "climate" and shown["plugin"] == "homehub.heater"


def test_invalid_desired_state_is_rejected_with_the_rule_and_nothing_is_stored(demo, broker):
    wait_for(lambda: reported(demo, "livingroom", "climate"), what="the heater's first report")
    before = demo.request("GET", "/things/livingroom/shadow?name=climate")[2]["state"].get("desired")
    status, _, body = demo.request("POST", "/things/livingroom/shadow?name=climate",
                                   {"state": {"desired": {"targetTemperature": 45}}})
    assert status == 400
    assert body["message"] == "attribute 'targetTemperature' of heater 'livingroom' must be between 5 and 30 (got 45)"
    device = Device(broker.port, "blind")
    try:
        device.publish("$aws/things/blind/shadow/name/position/update",
                       {"state": {"desired": {"position": 50.5}}, "clientToken": "t"})
        rejected = device.expect("update/rejected")
        assert rejected == {"code": 400, "clientToken": "t",
                            "message": "attribute 'position' of motor 'blind' must be a whole number (got 50.5)"}
    finally:
        device.close()
    # The simulated room keeps reporting, so the version moves; the desired state must not.
    assert demo.request("GET", "/things/livingroom/shadow?name=climate")[2]["state"].get("desired") == before
    # The AWS semantics stay as they are for unregistered things.
    assert demo.request("POST", "/things/free/shadow?name=climate", {"state": {"desired": {"targetTemperature": 45}}})[0] == 200


def test_a_killed_plugin_comes_back_with_its_devices_and_nothing_lost(demo):
    assert hubctl(demo, "set", "blind", "position=30").returncode == 0
    wait_for(lambda: reported(demo, "blind", "position").get("position") == 30, what="the blind at 30")
    old = plugin_status(demo, "homehub.motor")["pid"]
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: plugin_status(demo, "homehub.motor")["state"] == "running"
             and plugin_status(demo, "homehub.motor")["pid"] not in (None, old), what="the motor plugin to restart")
    assert plugin_status(demo, "homehub.motor")["restarts"] == 1
    assert hubctl(demo, "set", "blind", "position=80").returncode == 0
    wait_for(lambda: reported(demo, "blind", "position").get("position") == 80, what="the restarted plugin to move")
    metrics = demo.request("GET", "/metrics")[2].decode()
    assert 'homehub_plugin_restarts_total{plugin="homehub.motor"} 1' in metrics


def test_lock_reports_unknown_after_restart_until_read_back(demo):
    wait_for(lambda: reported(demo, "frontdoor", "lock").get("lockState") == "locked", what="the lock read back")
    events = subprocess.Popen([str(HUBCTL), "--socket", str(demo.socket), "watch", "--json", "frontdoor"],
                              stdout=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: demo.request("GET", "/v1/status")[2]["eventSubscribers"] >= 1, what="the watcher")
        os.kill(plugin_status(demo, "homehub.doorlock")["pid"], signal.SIGKILL)
        states = []
        for line in events.stdout:
            event = json.loads(line)
            state = (event.get("state") or {}).get("reported", {}).get("lockState")
            if state:
                states.append(state)
            if states[-2:] == ["unknown", "locked"]:
                break
        assert states[-2:] == ["unknown", "locked"]
    finally:
        events.terminate()
        events.wait(timeout=10)


def test_broken_manifest_is_reported_and_the_others_load(tmp_path, broker):
    def prepare(plugins):
        (plugins / "broken").mkdir()
        (plugins / "broken/manifest.json").write_text('{"id": "broken", "name": ')
        (plugins / "outside").mkdir()
        (plugins / "outside/manifest.json").write_text(json.dumps({
            "id": "outside", "name": "o", "version": "1", "hubApi": {"min": 1, "max": 1}, "executable": "sh",
            "deviceTypes": {"o": {"shadows": [{"name": "s", "attributes": {}}]}}}))
        os.symlink("/bin/sh", plugins / "outside/sh")

    hub = plugin_hub(tmp_path, broker, prepare=prepare)
    try:
        listed = hub.request("GET", "/v1/plugins")[2]
        assert {p["id"] for p in listed["plugins"]} == {"homehub.heater", "homehub.doorlock", "homehub.motor", "homehub.zigbee2mqtt",
                                                     "example.switch"}
        reasons = {Path(s["directory"]).name: s["reason"] for s in listed["skipped"]}
        assert "not valid JSON" in reasons["broken"] and "outside the plugin's folder" in reasons["outside"]
        table = hubctl(hub, "plugins", "list").stdout
        assert "skipped:" in table and "broken" in table
        assert hubctl(hub, "plugins", "check", str(tmp_path / "plugins/broken")).returncode == 1
        assert hubctl(hub, "plugins", "check", str(tmp_path / "plugins/heater")).returncode == 0
        # A broken manifest dropped in while the hub runs is reported at once.
        (tmp_path / "plugins/late").mkdir()
        (tmp_path / "plugins/late/manifest.json").write_text('{"id": "late", "hubApi": 7}')
        late = {Path(s["directory"]).name: s["reason"] for s in hub.request("GET", "/v1/plugins")[2]["skipped"]}
        assert "'name' is required" in late["late"]
        assert hub.request("GET", "/v1/health")[0] == 200
    finally:
        hub.stop()


@pytest.mark.parametrize("mode, expected", [
    ("crash-at-start", "process exited with status 3"),
    ("crash-on-delta", "process exited with status 7"),
    ("hang", "no answer to 'ping'"),
    ("garbage", "not a JSON-RPC 2.0 message"),
    ("flood", "flooding"),
    ("huge-line", "over 1048576 bytes"),
])
def test_a_misbehaving_plugin_is_restarted_and_the_hub_and_other_plugins_are_unaffected(tmp_path, broker, mode, expected):
    type_name = []
    hub = plugin_hub(tmp_path, broker, prepare=lambda plugins: type_name.append(misbehaving(plugins, mode)))
    try:
        assert hubctl(hub, "things", "add", "victim", "--type", type_name[0]).returncode == 0
        assert hubctl(hub, "things", "add", "lamp", "--type", "switch").returncode == 0
        if mode == "crash-on-delta":
            hub.request("POST", "/things/victim/shadow?name=probe", {"state": {"desired": {"value": 1}}})
        wait_for(lambda: expected in (plugin_status(hub, f"test.{mode}")["lastProblem"] or ""),
                 what=f"the hub to notice '{expected}'")
        # The hub and the other plugins are unaffected.
        assert hub.request("GET", "/v1/health")[0] == 200
        assert hubctl(hub, "set", "lamp", "on=true").returncode == 0
        wait_for(lambda: reported(hub, "lamp", "power").get("on") is True, what="the switch to still work")
        if mode == "crash-at-start":
            wait_for(lambda: plugin_status(hub, "test.crash-at-start")["state"] == "quarantined", what="quarantine")
    finally:
        hub.stop()
    assert hub.process.returncode == 0


def test_fifty_locks_and_fifty_heaters_start_and_no_plugin_is_killed(tmp_path, broker):
    """The hub's default plugin timings (a reply within 5 s) and the door lock's default read-back
    (0.5 s per bolt): reading 50 bolts one after the other would take 25 s."""
    plugins = tmp_path / "plugins"
    stage(plugins)
    entries = [(f"door{index}", "doorlock", {}) for index in range(50)]
    entries += [(f"room{index}", "heater", {"initialTemperature": 18.0}) for index in range(50)]
    config = external_config(tmp_path, broker).replace("[plugins]\ndirs = []\n", f'[plugins]\ndirs = ["{plugins}"]\n')
    hub = Hub(tmp_path, config + things(*entries))
    try:
        wait_for(lambda: all(reported(hub, f"door{index}", "lock").get("lockState") == "locked" for index in range(50)),
                 timeout=30, what="every lock to read its bolt back")
        wait_for(lambda: all("currentTemperature" in reported(hub, f"room{index}", "climate") for index in range(50)),
                 timeout=30, what="every heater to report")
        for plugin_id in ("homehub.doorlock", "homehub.heater"):
            status = plugin_status(hub, plugin_id)
            assert (status["state"], status["restarts"]) == ("running", 0), status
        assert "hung" not in hub.log_text()
    finally:
        hub.stop()

"""The zigbee2mqtt bridge plugin against a zigbee2mqtt stand-in (docs/zigbee2mqtt.md).

The stand-in (zigbee2mqtt_standin.py) speaks zigbee2mqtt's MQTT API on a mosquitto of its own
with a TRV, a lock and a cover whose `exposes` are copied in shape from zigbee2mqtt's published
definitions. The hub runs the built plugin; a thing of type zigbee2mqtt-bridge points it there.
Checked: discovery (types and ranges from exposes, the lock shadow sensitive), report, set,
out-of-range values refused, a program driving the valve at its times, the lock through the
ledger only for those allowed (and TIMED_OUT when its radio stays silent), availability and the
bridge going offline, a rename followed by IEEE address, and a device removed (marked gone).
"""
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import HUBCTL, Broker, Hub, free_port, wait_for
from test_plugins import FAST, stage
from test_schedules import utc_clock
from zigbee2mqtt_standin import Zigbee2MQTT

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: runs hubctl as other users (setpriv)")

WRITE_GROUP = "nogroup"
SENSITIVE_GROUP = "staff"
TRV_TYPE = "z2m.danfoss-014g2461"
LOCK_TYPE = "z2m.yale-yrd256ha20bp"
COVER_TYPE = "z2m.ikea-e1757"


def run(hub, *arguments, group=None):
    command = [str(hub.binary), "--socket", str(hub.socket), *arguments]
    if group:
        command = ["setpriv", "--reuid=nobody", f"--regid={group}", "--clear-groups", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def ok(result):
    assert result.returncode == 0, result.stderr
    return result.stdout


def config_text(directory, plugins, port):
    return (f'[hub]\ndata_dir = "{directory}/data"\nsocket = "{directory}/hubctl.sock"\nsocket_mode = "0666"\n'
            f'[mqtt]\nmode = "embedded"\nport = {port}\n'
            f'[policy]\nread_groups = ["{WRITE_GROUP}"]\nwrite_groups = ["{WRITE_GROUP}"]\n'
            f'sensitive_groups = ["{SENSITIVE_GROUP}"]\n'
            f'[plugins]\ndirs = ["{plugins}"]\n{FAST}')


@pytest.fixture
def zigbee(tmp_path, certs):
    """The stand-in's broker and zigbee2mqtt, the hub with the plugin, and the bridge thing."""
    z2m_broker = Broker(tmp_path, certs)
    standin = Zigbee2MQTT(z2m_broker.port)
    directory = Path(tempfile.mkdtemp(prefix="homehub-z2m-", dir="/tmp"))
    directory.chmod(0o755)
    binary = directory / "hubctl"
    shutil.copy(HUBCTL, binary)
    binary.chmod(0o755)
    plugins = directory / "plugins"
    stage(plugins)
    hub = Hub(directory, config_text(directory, plugins, free_port()))
    hub.binary = binary
    ok(run(hub, "things", "add", "zigbee", "--type", "zigbee2mqtt-bridge", "host=127.0.0.1",
           f"port={z2m_broker.port}"))
    wait_for(lambda: {"bedroom-trv", "front-lock", "living-blind"} <= set(things(hub)), what="the three devices")
    yield hub, standin
    hub.stop()
    standin.close()
    z2m_broker.stop()
    shutil.rmtree(directory, ignore_errors=True)


def things(hub):
    return {thing["name"]: thing for thing in hub.request("GET", "/v1/things")[2]["things"]}


def shadow(hub, thing, name):
    status, _, body = hub.request("GET", f"/things/{thing}/shadow?name={name}")
    return body if status == 200 else {}


def reported(hub, thing, name):
    return shadow(hub, thing, name).get("state", {}).get("reported", {})


def test_devices_appear_as_things_with_the_types_and_ranges_of_their_exposes(zigbee):
    hub, standin = zigbee
    listed = things(hub)
    assert (listed["bedroom-trv"]["type"], listed["front-lock"]["type"], listed["living-blind"]["type"]) == (
        TRV_TYPE, LOCK_TYPE, COVER_TYPE)
    assert all(listed[name]["plugin"] == "homehub.zigbee2mqtt" for name in ("bedroom-trv", "front-lock", "zigbee"))
    assert listed["bedroom-trv"]["config"]["ieee"] == "0x90fd9ffffe000001"
    assert "Coordinator" not in listed
    table = ok(run(hub, "things", "list"))
    assert "homehub.zigbee2mqtt" in table and TRV_TYPE in table

    plugin = hub.request("GET", "/v1/plugins/homehub.zigbee2mqtt")[2]
    assert plugin["apiVersion"] == 2
    declared = {t["name"]: t for t in plugin["declaredTypes"]}
    assert set(declared) == {TRV_TYPE, LOCK_TYPE, COVER_TYPE}
    climate = declared[TRV_TYPE]["shadows"][0]
    assert climate["name"] == "climate" and climate["sensitive"] is False
    setpoint = climate["attributes"]["occupied_heating_setpoint"]
    assert (setpoint["type"], setpoint["min"], setpoint["max"], setpoint["step"], setpoint["unit"]) == (
        "number", 5, 35, 0.5, "°C")
    assert climate["attributes"]["local_temperature"]["writable"] is False
    assert climate["attributes"]["system_mode"]["values"] == ["heat"]
    lock = declared[LOCK_TYPE]
    assert lock["shadows"][0]["name"] == "lock" and lock["shadows"][0]["sensitive"] is True
    assert lock["shadows"][0]["attributes"]["state"]["values"] == ["LOCK", "UNLOCK"]
    assert lock["commands"]["unlock"]["sensitive"] is True and lock["commands"]["lock"]["sensitive"] is False
    cover = declared[COVER_TYPE]["shadows"][0]
    assert cover["name"] == "cover" and cover["attributes"]["position"]["type"] == "number"
    shown = ok(run(hub, "plugins", "show", "homehub.zigbee2mqtt"))
    assert f"device type {LOCK_TYPE} (declared at run time by the plugin)" in shown and "sensitive" in shown

    # Reported state arrives; the bridge thing says the bridge is online.
    wait_for(lambda: reported(hub, "bedroom-trv", "climate").get("local_temperature") == 18.5, what="TRV state")
    assert reported(hub, "front-lock", "lock")["lock_state"] == "locked"
    wait_for(lambda: reported(hub, "zigbee", "bridge").get("state") == "online", what="bridge online")
    assert reported(hub, "zigbee", "bridge")["devices"] == 3
    standin.report("bedroom-trv", local_temperature=19.25)
    wait_for(lambda: reported(hub, "bedroom-trv", "climate").get("local_temperature") == 19.25, what="new reading")


def test_a_setpoint_reaches_the_valve_and_out_of_range_is_refused(zigbee):
    hub, standin = zigbee
    ok(run(hub, "set", "bedroom-trv", "occupied_heating_setpoint=21.5"))
    wait_for(lambda: {"occupied_heating_setpoint": 21.5} in standin.received("bedroom-trv"), what="the /set")
    wait_for(lambda: reported(hub, "bedroom-trv", "climate").get("occupied_heating_setpoint") == 21.5,
             what="the valve reports the setpoint")
    refused = run(hub, "set", "bedroom-trv", "occupied_heating_setpoint=40")
    assert refused.returncode != 0
    assert "must be between 5 and 35" in refused.stderr, refused.stderr
    refused = run(hub, "set", "bedroom-trv", "occupied_heating_setpoint=20.3")
    assert "in steps of 0.5" in refused.stderr, refused.stderr
    assert {"occupied_heating_setpoint": 40} not in standin.received("bedroom-trv")


def test_a_program_drives_the_valve_at_its_times(tmp_path, zigbee):
    hub, standin = zigbee
    # In force now: 19 (an hour ago); next: 22.5 in two hours.
    program = (f"daily {utc_clock(-3600)} occupied_heating_setpoint=19; "
               f"daily {utc_clock(7200)} occupied_heating_setpoint=22.5")
    ok(run(hub, "schedule", "add", "bedroom-trv", "--zone", "UTC", "--program", program))
    wait_for(lambda: {"occupied_heating_setpoint": 19} in standin.received("bedroom-trv"), what="19 sent")
    wait_for(lambda: reported(hub, "bedroom-trv", "climate").get("occupied_heating_setpoint") == 19, what="at 19")
    # Three hours later by the hub's clock (shifted, not waited for), the next transition runs.
    hub.stop()
    hub.env = {"HOMEHUB_CLOCK_OFFSET_SECONDS": "10800"}
    hub.start()
    wait_for(lambda: {"occupied_heating_setpoint": 22.5} in standin.received("bedroom-trv"), what="22.5 sent")
    wait_for(lambda: reported(hub, "bedroom-trv", "climate").get("occupied_heating_setpoint") == 22.5,
             what="the valve at 22.5")


def test_the_lock_unlocks_through_the_ledger_only_for_those_allowed(zigbee):
    hub, standin = zigbee
    refused = run(hub, "unlock", "front-lock", group=WRITE_GROUP)
    assert refused.returncode == 4 and "may not run the sensitive command 'unlock'" in refused.stderr
    refused = run(hub, "set", "front-lock", "--name", "lock", "state=UNLOCK", group=WRITE_GROUP)
    assert refused.returncode == 4, refused.stderr
    assert standin.received("front-lock") == []

    result = run(hub, "unlock", "front-lock", "--wait", group=SENSITIVE_GROUP)
    assert result.returncode == 0, result.stderr
    assert "SUCCEEDED" in result.stdout
    assert {"state": "UNLOCK"} in standin.received("front-lock")
    assert reported(hub, "front-lock", "lock")["lock_state"] == "unlocked"
    command = hub.request("GET", "/v1/commands?thing=front-lock")[2]["commands"][0]
    assert [t["state"] for t in command["transitions"]][-2:] == ["RUNNING", "SUCCEEDED"]

    # A radio that stays silent: the command times out, the door is not said to be locked.
    standin.silent.add("front-lock")
    result = run(hub, "lock", "front-lock", "--wait", "--timeout", "2", group=WRITE_GROUP)
    assert result.returncode == 11 and "TIMED_OUT" in result.stdout + result.stderr, result.stdout + result.stderr
    assert reported(hub, "front-lock", "lock")["lock_state"] == "unlocked"


def test_availability_and_the_bridge_going_offline(zigbee):
    hub, standin = zigbee

    def connected(thing):
        return hub.request("GET", f"/v1/things/{thing}")[2]["connectivity"]["connected"]

    wait_for(lambda: connected("front-lock") is True, what="the lock connected")
    standin.availability("front-lock", False)
    wait_for(lambda: connected("front-lock") is False, what="the lock unavailable")
    refused = run(hub, "unlock", "front-lock", "--wait")
    assert refused.returncode == 13 and "unavailable" in refused.stdout + refused.stderr, refused.stdout
    standin.availability("front-lock", True)
    wait_for(lambda: connected("front-lock") is True, what="the lock back")

    standin.bridge_state(False)
    wait_for(lambda: all(connected(t) is False for t in ("bedroom-trv", "front-lock", "living-blind")),
             what="every device disconnected with its bridge")
    assert reported(hub, "zigbee", "bridge")["state"] == "offline"
    standin.bridge_state(True)
    wait_for(lambda: all(connected(t) is True for t in ("bedroom-trv", "front-lock", "living-blind")),
             what="the devices back with the bridge")


def test_a_rename_is_followed_by_ieee_address_and_a_removed_device_is_marked_gone(zigbee):
    hub, standin = zigbee
    ok(run(hub, "set", "living-blind", "--name", "cover", "position=30"))
    wait_for(lambda: reported(hub, "living-blind", "cover").get("position") == 30, what="the blind at 30")
    standin.rename("living-blind", "lounge/blind")
    wait_for(lambda: things(hub)["living-blind"]["config"]["friendlyName"] == "lounge/blind", what="renamed")
    assert "lounge-blind" not in things(hub)
    ok(run(hub, "set", "living-blind", "--name", "cover", "position=60"))
    wait_for(lambda: {"position": 60} in standin.received("lounge/blind"), what="the set on the new name")
    wait_for(lambda: reported(hub, "living-blind", "cover").get("position") == 60, what="the blind at 60")

    standin.remove("bedroom-trv")
    wait_for(lambda: things(hub)["bedroom-trv"]["goneAt"] is not None, what="the valve marked gone")
    assert reported(hub, "bedroom-trv", "climate")["local_temperature"] == 18.5  # history kept
    assert "gone since" in ok(run(hub, "things", "list"))
    rows = hub.request("GET", "/v1/audit?thing=bedroom-trv&limit=20")[2]["entries"]
    assert any(row["action"] == "thing gone" and row["identity"] == "plugin:homehub.zigbee2mqtt" for row in rows)


def test_the_bridge_can_be_configured_in_hub_toml(tmp_path, certs):
    z2m_broker = Broker(tmp_path, certs)
    standin = Zigbee2MQTT(z2m_broker.port, base="z2m-home")
    directory = Path(tempfile.mkdtemp(prefix="homehub-z2m-", dir="/tmp"))
    plugins = directory / "plugins"
    stage(plugins)
    config = (config_text(directory, plugins, free_port())
              + f'[plugins.zigbee2mqtt]\nhost = "127.0.0.1"\nport = {z2m_broker.port}\nbase_topic = "z2m-home"\n')
    hub = Hub(directory, config)
    try:
        wait_for(lambda: {"bedroom-trv", "front-lock", "living-blind", "zigbee2mqtt"} <= set(things(hub)),
                 what="the devices and the configured bridge thing")
        assert things(hub)["zigbee2mqtt"]["config"]["base_topic"] == "z2m-home"
        wait_for(lambda: reported(hub, "zigbee2mqtt", "bridge").get("state") == "online", what="bridge online")
        wait_for(lambda: reported(hub, "front-lock", "lock").get("lock_state") == "locked", what="lock state")
    finally:
        hub.stop()
        standin.close()
        z2m_broker.stop()
        shutil.rmtree(directory, ignore_errors=True)

"""Home Assistant's MQTT discovery, as the broker carries it (docs/home-assistant.md).

What a Home Assistant would read and send, checked on the wire with paho: the retained configs
of the three demo device types, their states, commands from applications with role write and
sensitive (the door's rule holds: a write one cannot unlock, and the audit says so), a removed
thing's configs cleared, Home Assistant's `online` answered with every config again, and no
client able to forge a config or a state. tests/test_homeassistant.py drives a real Home
Assistant (`make test-homeassistant`).
"""
import json
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from conftest import HUBCTL, Hub, free_port, wait_for
from test_plugins import FAST, stage, things

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: the hub's data dir is shared with hubctl")

NOT_AUTHORIZED = 135


@pytest.fixture
def ha_hub():
    directory = Path(tempfile.mkdtemp(prefix="homehub-ha-", dir="/tmp"))
    directory.chmod(0o755)
    plugins = directory / "plugins"
    stage(plugins)
    port = free_port()
    config = (f'[hub]\ndata_dir = "{directory}/data"\nsocket = "{directory}/hubctl.sock"\n'
              f'[mqtt]\nmode = "embedded"\nport = {port}\nanonymous_role = "read"\n'
              f'[homeassistant]\nenabled = true\n'
              f'[plugins]\ndirs = ["{plugins}"]\n{FAST}'
              + things(("livingroom", "heater", {"initialTemperature": 18.0, "degreesPerMinute": 600.0,
                                                 "tickSeconds": 0.1}),
                       ("frontdoor", "doorlock", {"moveSeconds": 0.3, "readBackSeconds": 0.05}),
                       ("blind", "motor", {"speedPercentPerSecond": 400.0})))
    hub = Hub(directory, config)
    hub.port = port
    yield hub
    hub.stop()
    shutil.rmtree(directory, ignore_errors=True)


def add_app(hub, name, role):
    result = subprocess.run([str(HUBCTL), "--socket", str(hub.socket), "--json", "apps", "add", name, "--role", role],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["mqtt"]["password"]


class Watcher:
    """An MQTT 5 client that keeps the latest payload of every topic it sees, and every message."""

    def __init__(self, port, username=None, password=None, topics=("homeassistant/#", "homehub/#")):
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        if username:
            self.client.username_pw_set(username, password)
        self.latest, self.log, self.acks = {}, [], {}
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client.on_connect = lambda *args: self.ready.set()
        self.client.on_message = self.on_message
        self.client.on_publish = self.on_publish
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.ready.wait(10), "no CONNACK"
        for topic in topics:
            self.client.subscribe(topic, qos=1)

    def on_message(self, client, userdata, message):
        with self.lock:
            self.latest[message.topic] = message.payload
            self.log.append((message.topic, message.payload, message.retain))

    def on_publish(self, client, userdata, mid, reason, properties):
        with self.lock:
            self.acks[mid] = reason.value

    def json(self, topic):
        payload = self.latest.get(topic)
        return json.loads(payload) if payload else None

    def text(self, topic):
        payload = self.latest.get(topic)
        return payload.decode() if payload is not None else None

    def publish(self, topic, payload, retain=False):
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        wait_for(lambda: info.mid in self.acks, what=f"PUBACK for {topic}")
        return self.acks[info.mid]

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


CLIMATE = "homeassistant/climate/homehub/livingroom_climate/config"
LOCK = "homeassistant/lock/homehub/frontdoor_lock/config"
COVER = "homeassistant/cover/homehub/blind_cover/config"


def test_the_three_demo_types_are_announced_with_their_schema_and_state(ha_hub):
    watcher = Watcher(ha_hub.port)
    try:
        wait_for(lambda: all(watcher.json(topic) for topic in (CLIMATE, LOCK, COVER)), what="the three configs")
        climate = watcher.json(CLIMATE)
        assert climate["unique_id"] == "homehub_livingroom_climate" and climate["name"] is None
        assert (climate["min_temp"], climate["max_temp"], climate["temp_step"]) == (5, 30, 0.5)
        assert climate["modes"] == ["heat", "off"] and climate["preset_modes"] == ["eco"]
        assert climate["temperature_command_topic"] == "homehub/livingroom/climate/temperature/set"
        assert climate["action_topic"] == "homehub/livingroom/climate/state"
        device = climate["device"]
        assert device["identifiers"] == ["homehub_livingroom"] and device["name"] == "livingroom"
        assert (device["model"], device["sw_version"], device["via_device"]) == ("heater", "1.0.0", "homehub")
        assert climate["origin"]["name"] == "homehub"
        assert [entry["topic"] for entry in climate["availability"]] == ["homehub/status",
                                                                         "homehub/livingroom/availability"]
        lock = watcher.json(LOCK)
        assert (lock["payload_lock"], lock["payload_unlock"]) == ("LOCK", "UNLOCK")
        cover = watcher.json(COVER)
        assert (cover["position_open"], cover["position_closed"], cover["payload_stop"]) == (100, 0, "STOP")
        # What the mapping does not cover appears by its schema: the heater's boost as a button,
        # the blind's `moving` as a binary sensor; the lock's wanted position is its commands'.
        assert watcher.json("homeassistant/button/homehub/livingroom_command_boost/config")["payload_press"] == "PRESS"
        assert watcher.json("homeassistant/binary_sensor/homehub/blind_position_moving/config")
        assert not any("frontdoor_lock_lock" in topic or "command_unlock" in topic for topic in watcher.latest)
        assert watcher.json("homeassistant/binary_sensor/homehub/hub/config")["state_topic"] == "homehub/status"

        wait_for(lambda: watcher.text("homehub/frontdoor/lock/state") == "LOCKED", what="the lock's state")
        wait_for(lambda: (watcher.json("homehub/livingroom/climate/state") or {}).get("temperature") is not None,
                 what="the heater's state")
        assert watcher.json("homehub/blind/cover/state") == {"state": "closed", "position": 0}
        assert watcher.text("homehub/status") == "online"
        wait_for(lambda: watcher.text("homehub/livingroom/availability") == "online", what="availability")
    finally:
        watcher.close()


def test_commands_take_the_one_path_and_a_write_home_assistant_cannot_unlock(ha_hub):
    writer = Watcher(ha_hub.port, "ha-write", add_app(ha_hub, "ha-write", "write"), topics=())
    trusted = Watcher(ha_hub.port, "ha-admin", add_app(ha_hub, "ha-admin", "sensitive"), topics=())
    watcher = Watcher(ha_hub.port)
    try:
        wait_for(lambda: watcher.text("homehub/frontdoor/lock/state") == "LOCKED", what="the lock's state")
        # The thermostat: set 22 °C; the simulated room warms to it and the state says so.
        assert writer.publish("homehub/livingroom/climate/temperature/set", "22") == 0
        assert writer.publish("homehub/livingroom/climate/mode/set", "heat") == 0
        wait_for(lambda: (watcher.json("homehub/livingroom/climate/state") or {}).get("temperature") == 22,
                 what="the target reported")
        wait_for(lambda: watcher.json("homehub/livingroom/climate/state")["current_temperature"] >= 21.5,
                 what="the room warmed", timeout=20)
        shadow = ha_hub.request("GET", "/things/livingroom/shadow?name=climate")[2]
        assert shadow["state"]["reported"]["targetTemperature"] == 22
        # eco is a preset; choosing it sets the mode.
        assert writer.publish("homehub/livingroom/climate/preset/set", "eco") == 0
        wait_for(lambda: watcher.json("homehub/livingroom/climate/state")["preset_mode"] == "eco", what="eco")

        # The door: a write Home Assistant is refused, the lock stays locked and its state is said again.
        before = sum(1 for topic, _, _ in watcher.log if topic == "homehub/frontdoor/lock/state")
        assert writer.publish("homehub/frontdoor/lock/set", "UNLOCK") == 0
        wait_for(lambda: sum(1 for topic, _, _ in watcher.log if topic == "homehub/frontdoor/lock/state") > before,
                 what="the lock's state published again")
        assert watcher.text("homehub/frontdoor/lock/state") == "LOCKED"
        rows = ha_hub.request("GET", "/v1/audit?thing=frontdoor&limit=50")[2]["entries"]
        refusal = [row for row in rows if row["identity"] == "application:ha-write"]
        assert refusal and refusal[-1]["result"] == 403 and refusal[-1]["path"] == "homeassistant"
        assert "may not run the sensitive command 'unlock'" in refusal[-1]["detail"]
        assert ha_hub.request("GET", "/v1/commands?thing=frontdoor")[2]["commands"] == []

        # A sensitive one unlocks, through the command ledger.
        assert trusted.publish("homehub/frontdoor/lock/set", "UNLOCK") == 0
        wait_for(lambda: watcher.text("homehub/frontdoor/lock/state") == "UNLOCKED", what="unlocked")
        commands = wait_for(lambda: [c for c in ha_hub.request("GET", "/v1/commands?thing=frontdoor")[2]["commands"]
                                     if c["state"] == "SUCCEEDED"], what="the unlock command succeeded")
        assert [c["command"] for c in commands] == ["unlock"]
        assert commands[0]["requester"]["identity"] == "application:ha-admin"
        rows = ha_hub.request("GET", "/v1/audit?thing=frontdoor&limit=50")[2]["entries"]
        assert any(row["identity"] == "application:ha-admin" and row["result"] == 201 for row in rows)

        # The blind: a position goes to the move command; bad input is audited with its reason.
        assert writer.publish("homehub/blind/cover/position/set", "40") == 0
        wait_for(lambda: (watcher.json("homehub/blind/cover/state") or {}).get("position") == 40, what="position 40")
        assert writer.publish("homehub/livingroom/climate/temperature/set", "warm") == 0
        wait_for(lambda: any(row["result"] == 400 and "'warm' is not a number" in (row["detail"] or "")
                             for row in ha_hub.request("GET", "/v1/audit?thing=livingroom&limit=50")[2]["entries"]),
                 what="the bad payload audited")
    finally:
        for client in (writer, trusted, watcher):
            client.close()


def test_no_client_forges_a_config_or_a_state(ha_hub):
    writer = Watcher(ha_hub.port, "ha-write", add_app(ha_hub, "ha-write", "write"), topics=())
    try:
        assert writer.publish("homehub/frontdoor/lock/state", "UNLOCKED", retain=True) == NOT_AUTHORIZED
        assert writer.publish(LOCK, "{}", retain=True) == NOT_AUTHORIZED
        assert writer.publish("homehub/status", "offline", retain=True) == NOT_AUTHORIZED
        # Home Assistant's own topics and other bridges' configs stay open to a writer.
        assert writer.publish("homeassistant/status", "online") == 0
        assert writer.publish("homeassistant/sensor/zigbee2mqtt/x/config", "") == 0
        wait_for(lambda: any(row["identity"] == "application:ha-write" and "Home Assistant" in (row["detail"] or "")
                             for row in ha_hub.request("GET", "/v1/audit?limit=100")[2]["entries"]),
                 what="the broker's refusal audited")
    finally:
        writer.close()


def test_a_removed_thing_disappears_and_online_brings_every_config_back(ha_hub):
    watcher = Watcher(ha_hub.port)
    try:
        wait_for(lambda: watcher.json(COVER), what="the blind's config")
        result = subprocess.run([str(HUBCTL), "--socket", str(ha_hub.socket), "things", "rm", "blind"],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        wait_for(lambda: watcher.latest.get(COVER) == b"", what="the blind's config cleared")
        wait_for(lambda: watcher.latest.get("homehub/blind/cover/state") == b"", what="the blind's state cleared")
        # A new subscriber sees no retained config of the blind at all.
        late = Watcher(ha_hub.port)
        try:
            wait_for(lambda: late.json(CLIMATE), what="the retained configs")
            assert not any(topic.startswith("homeassistant/") and "blind" in topic for topic in late.latest)
        finally:
            late.close()

        # Home Assistant restarted: it says `online`, and gets every config again.
        seen = len(watcher.log)
        announcer = Watcher(ha_hub.port, "ha", add_app(ha_hub, "ha", "write"), topics=())
        announcer.publish("homeassistant/status", "online")
        wait_for(lambda: any(topic == CLIMATE for topic, _, _ in watcher.log[seen:]), what="the configs again")
        announcer.close()
    finally:
        watcher.close()

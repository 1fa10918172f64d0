"""A zigbee2mqtt stand-in: its documented MQTT API on a real mosquitto, with three devices.

The API is zigbee2mqtt's (https://www.zigbee2mqtt.io/guide/usage/mqtt_topics_and_messages.html):
retained `BASE/bridge/state` and `BASE/bridge/devices`, each device's state on
`BASE/FRIENDLY_NAME` (retained), `BASE/FRIENDLY_NAME/set` to change it, and
`BASE/FRIENDLY_NAME/availability` (`{"state": "online"}`).

The definitions are copied in shape from zigbee-herdsman-converters' published ones (the
`exposes` zigbee2mqtt shows on each device's page, https://www.zigbee2mqtt.io/devices/):
  - Danfoss 014G2461 "Ally thermostatic radiator valve" (devices/danfoss.ts): battery,
    climate with occupied_heating_setpoint 5–35 step 0.5, local_temperature, system_mode,
    running_state, pi_heating_demand; linkquality.
  - Yale YRD256HA20BP "Assure lock SL" (devices/yale.ts): lock with state LOCK/UNLOCK and
    lock_state not_fully_locked/locked/unlocked; battery; linkquality.
  - IKEA E1757 "FYRTUR roller blind" (devices/ikea.ts): cover with state OPEN/CLOSE/STOP and
    position 0–100; battery; linkquality.
"""
import copy
import json
import threading

import paho.mqtt.client as mqtt


def numeric(name, access=1, unit=None, minimum=None, maximum=None, step=None, description=None):
    expose = {"type": "numeric", "name": name, "property": name, "access": access, "label": name.replace("_", " ")}
    for key, value in (("unit", unit), ("value_min", minimum), ("value_max", maximum), ("value_step", step),
                       ("description", description)):
        if value is not None:
            expose[key] = value
    return expose


BATTERY = numeric("battery", unit="%", minimum=0, maximum=100, description="Remaining battery in %")
LINKQUALITY = numeric("linkquality", unit="lqi", minimum=0, maximum=255, description="Link quality (signal strength)")

TRV = {
    "model": "014G2461", "vendor": "Danfoss", "description": "Ally thermostatic radiator valve",
    "supports_ota": True, "options": [],
    "exposes": [
        BATTERY,
        {"type": "climate", "features": [
            numeric("occupied_heating_setpoint", access=7, unit="°C", minimum=5, maximum=35, step=0.5,
                    description="Temperature setpoint"),
            numeric("local_temperature", access=5, unit="°C", description="Current temperature measured on the device"),
            {"type": "enum", "name": "system_mode", "property": "system_mode", "access": 7, "values": ["heat"],
             "description": "Mode of this device"},
            {"type": "enum", "name": "running_state", "property": "running_state", "access": 5,
             "values": ["idle", "heat"], "description": "The current running state"},
            numeric("pi_heating_demand", access=5, unit="%", minimum=0, maximum=100,
                    description="Position of the valve (= demanded heat) where 0% is fully closed and 100% is fully open"),
        ]},
        LINKQUALITY,
    ],
}

LOCK = {
    "model": "YRD256HA20BP", "vendor": "Yale", "description": "Assure lock SL", "supports_ota": False, "options": [],
    "exposes": [
        {"type": "lock", "features": [
            {"type": "binary", "name": "state", "property": "state", "access": 3, "value_on": "LOCK",
             "value_off": "UNLOCK", "description": "State of the lock"},
            {"type": "enum", "name": "lock_state", "property": "lock_state", "access": 1,
             "values": ["not_fully_locked", "locked", "unlocked"], "description": "Actual state of the lock"},
        ]},
        BATTERY,
        LINKQUALITY,
    ],
}

COVER = {
    "model": "E1757", "vendor": "IKEA", "description": "FYRTUR roller blind", "supports_ota": True, "options": [],
    "exposes": [
        {"type": "cover", "features": [
            {"type": "enum", "name": "state", "property": "state", "access": 3, "values": ["OPEN", "CLOSE", "STOP"]},
            numeric("position", access=7, unit="%", minimum=0, maximum=100,
                    description="Position of this cover"),
        ]},
        BATTERY,
        LINKQUALITY,
    ],
}


class Zigbee2MQTT:
    """Three devices on a broker, answering `/set` as the radios would (unless told otherwise)."""

    def __init__(self, port, base="zigbee2mqtt"):
        self.base = base
        self.devices = [
            {"ieee_address": "0x00124b0000000001", "type": "Coordinator", "network_address": 0, "supported": True,
             "friendly_name": "Coordinator", "definition": None, "interview_completed": True},
            self.device("0x90fd9ffffe000001", "bedroom-trv", TRV, "Battery"),
            self.device("0xec1bbdfffe000002", "front-lock", LOCK, "Battery"),
            self.device("0x680ae2fffe000003", "living-blind", COVER, "Battery"),
        ]
        self.states = {
            "bedroom-trv": {"occupied_heating_setpoint": 17, "local_temperature": 18.5, "system_mode": "heat",
                            "running_state": "idle", "pi_heating_demand": 0, "battery": 90, "linkquality": 120},
            "front-lock": {"state": "LOCK", "lock_state": "locked", "battery": 80, "linkquality": 90},
            "living-blind": {"state": "CLOSE", "position": 0, "battery": 70, "linkquality": 100},
        }
        self.silent = set()  # friendly names whose radio does not answer
        self.sets = []  # (friendly name, payload) as received
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="zigbee2mqtt-standin")
        self.client.will_set(f"{base}/bridge/state", json.dumps({"state": "offline"}), qos=1, retain=True)
        self.client.on_message = self.on_message
        connected = threading.Event()
        self.client.on_connect = lambda *args: connected.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert connected.wait(10), "the stand-in could not connect"
        self.client.subscribe(f"{base}/#", qos=1)
        self.publish("bridge/info", {"version": "2.1.1", "coordinator": {"type": "zStack3x0"}})
        self.publish("bridge/state", {"state": "online"})
        self.publish_devices()
        for name in self.states:
            self.publish(name, self.states[name])
            self.publish(f"{name}/availability", {"state": "online"})

    @staticmethod
    def device(ieee, name, definition, power):
        return {"ieee_address": ieee, "type": "EndDevice", "network_address": int(ieee[-4:], 16), "supported": True,
                "friendly_name": name, "disabled": False, "definition": copy.deepcopy(definition),
                "power_source": power, "interview_completed": True, "interviewing": False}

    def publish(self, topic, body, retain=True, wait=True):
        info = self.client.publish(f"{self.base}/{topic}", json.dumps(body), qos=1, retain=retain)
        if wait:  # not from paho's own thread (a callback), which must keep running to finish it
            info.wait_for_publish(10)

    def publish_devices(self):
        self.publish("bridge/devices", self.devices)

    def on_message(self, client, userdata, message):
        topic = message.topic[len(self.base) + 1:]
        if not topic.endswith("/set"):
            return
        name = topic[:-4]
        try:
            payload = json.loads(message.payload)
        except ValueError:
            return
        with self.lock:
            self.sets.append((name, payload))
        if name in self.silent or name not in self.states:
            return
        state = self.states[name]
        if "state" in payload and name == "front-lock":
            wanted = "locked" if payload["state"] == "LOCK" else "unlocked"
            state.update({"state": payload["state"], "lock_state": wanted})
        elif "position" in payload or "state" in payload:
            state.update(payload)
            if "state" in payload and "position" not in payload:
                state["position"] = {"OPEN": 100, "CLOSE": 0}.get(payload["state"], state["position"])
        else:
            state.update(payload)
        self.publish(name, state, wait=False)

    # What a test does to the Zigbee network.

    def report(self, name, **values):
        self.states[name].update(values)
        self.publish(name, self.states[name])

    def availability(self, name, online):
        self.publish(f"{name}/availability", {"state": "online" if online else "offline"})

    def bridge_state(self, online):
        self.publish("bridge/state", {"state": "online" if online else "offline"})

    def rename(self, old, new):
        for device in self.devices:
            if device["friendly_name"] == old:
                device["friendly_name"] = new
        self.states[new] = self.states.pop(old)
        self.client.publish(f"{self.base}/{old}", b"", qos=1, retain=True).wait_for_publish(10)
        self.publish_devices()
        self.publish(new, self.states[new])

    def remove(self, name):
        self.devices = [device for device in self.devices if device["friendly_name"] != name]
        self.states.pop(name, None)
        self.publish_devices()

    def received(self, name):
        with self.lock:
            return [payload for device, payload in self.sets if device == name]

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()

"""One access model on every path (docs/security.md): who may unlock the front door.

A member of the write group only tries every way there is — hubctl set and unlock, the REST
shadow API, a one-shot schedule that sets lock=unlocked and one that issues unlock — and
applications and anonymous clients try MQTT; each is refused with a message naming the
identity, what was needed and how to get it, the door stays locked, and the audit log has the
row. A member of the sensitive group, and an application with role sensitive, unlock it.

Users are real: hubctl runs as `nobody` with the peer group `nogroup` (the write group here) or
`staff` (the sensitive group), both in Debian's base system. The broker is the embedded one,
with homehub's plugin; MQTT clients are paho with MQTT 5, whose PUBACK carries the refusal.
"""
import json
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
import pytest

from conftest import HUBCTL, Hub, free_port, wait_for
from test_plugins import FAST, stage, things

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: runs hubctl as other users (setpriv)")

WRITE_GROUP = "nogroup"
SENSITIVE_GROUP = "staff"
NOT_AUTHORIZED = 135
LOCK_TOPIC = "$aws/things/frontdoor/shadow/name/lock/update"
UNLOCK = {"state": {"desired": {"lock": "unlocked"}}}


@pytest.fixture
def door_hub():
    directory = Path(tempfile.mkdtemp(prefix="homehub-access-", dir="/tmp"))
    directory.chmod(0o755)
    binary = directory / "hubctl"
    shutil.copy(HUBCTL, binary)
    binary.chmod(0o755)
    plugins = directory / "plugins"
    stage(plugins)
    port, tls_port = free_port(), free_port()
    config = (f'[hub]\ndata_dir = "{directory}/data"\nsocket = "{directory}/hubctl.sock"\nsocket_mode = "0666"\n'
              f'[mqtt]\nmode = "embedded"\nport = {port}\ntls_port = {tls_port}\nanonymous_role = "write"\n'
              f'[policy]\nread_groups = ["{WRITE_GROUP}"]\nwrite_groups = ["{WRITE_GROUP}"]\n'
              f'sensitive_groups = ["{SENSITIVE_GROUP}"]\n'
              f'[plugins]\ndirs = ["{plugins}"]\n{FAST}'
              + things(("frontdoor", "doorlock", {"moveSeconds": 0.3, "readBackSeconds": 0.05}),
                       ("livingroom", "heater", {"initialTemperature": 18.0})))
    hub = Hub(directory, config)
    hub.port, hub.tls_port, hub.binary = port, tls_port, binary
    wait_for(lambda: lock_state(hub) == "locked", what="the lock read back")
    yield hub
    hub.stop()
    shutil.rmtree(directory, ignore_errors=True)


def lock_shadow(hub):
    return hub.request("GET", "/things/frontdoor/shadow?name=lock")[2]


def lock_state(hub):
    return lock_shadow(hub).get("state", {}).get("reported", {}).get("lockState")


def assert_door_untouched(hub):
    state = lock_shadow(hub)["state"]
    assert "desired" not in state, f"a refused change was stored: {state}"
    assert state["reported"]["lockState"] == "locked"


def as_user(hub, group, *arguments):
    """hubctl as `nobody` whose connection carries `group` (the policy reads SO_PEERCRED)."""
    return subprocess.run(["setpriv", "--reuid=nobody", f"--regid={group}", "--clear-groups", str(hub.binary),
                           "--socket", str(hub.socket), *arguments], capture_output=True, text=True, timeout=60)


def audit(hub, thing="frontdoor"):
    return hub.request("GET", f"/v1/audit?thing={thing}&limit=200")[2]["entries"]


def add_app(hub, name, role, *extra):
    result = subprocess.run([str(hub.binary), "--socket", str(hub.socket), "--json", "apps", "add", name,
                             "--role", role, *extra], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


class Client:
    """A paho MQTT 5 client that records PUBACK reason codes and messages."""

    def __init__(self, port, username=None, password=None, tls=None, client_id=None):
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or "", protocol=mqtt.MQTTv5)
        if username:
            self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set(**tls)
        self.acks, self.messages = {}, []
        self.lock = threading.Condition()
        self.connected = None
        self.client.on_connect = self.on_connect
        self.client.on_publish = self.on_publish
        self.client.on_message = self.on_message
        self.client.connect("localhost" if tls else "127.0.0.1", port)
        self.client.loop_start()
        wait_for(lambda: self.connected is not None, what="CONNACK")

    def on_connect(self, client, userdata, flags, reason, properties):
        self.connected = reason

    def on_publish(self, client, userdata, mid, reason, properties):
        with self.lock:
            self.acks[mid] = reason.value

    def on_message(self, client, userdata, message):
        with self.lock:
            self.messages.append((message.topic, json.loads(message.payload)))

    def publish(self, topic, body, properties=None):
        """Publishes QoS 1 and returns the PUBACK's reason code (0: accepted, 135: not authorised)."""
        info = self.client.publish(topic, json.dumps(body), qos=1, properties=properties)
        wait_for(lambda: info.mid in self.acks, what=f"PUBACK for {topic}")
        return self.acks[info.mid]

    def subscribe(self, topic):
        self.client.subscribe(topic, qos=1)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def test_a_write_user_cannot_unlock_by_any_socket_path_and_still_locks(door_hub):
    hub = door_hub
    needs = f"needs group '{SENSITIVE_GROUP}'"
    attempts = [
        (["set", "frontdoor", "lock=unlocked"], "may not change the sensitive shadow 'lock' of 'frontdoor'"),
        (["unlock", "frontdoor"], "may not run the sensitive command 'unlock' on 'frontdoor'"),
        (["schedule", "add", "frontdoor", "--at", "2031-01-01T03:00", "lock=unlocked"],
         "may not create a schedule that would change the sensitive shadow 'lock' of 'frontdoor'"),
        (["schedule", "add", "frontdoor", "--id", "night", "--at", "2031-01-01T03:00", "--command", "unlock"],
         "may not create a schedule that runs the sensitive command 'unlock' on 'frontdoor'"),
    ]
    for arguments, sentence in attempts:
        result = as_user(hub, WRITE_GROUP, *arguments)
        assert result.returncode == 4, (arguments, result.stdout, result.stderr)
        assert f"user 'nobody' {sentence}: {needs}" in result.stderr, result.stderr
    # Nor by taking the lock's guard away: re-registering the door without its type, or removing it.
    for arguments in (["things", "add", "frontdoor"], ["things", "rm", "frontdoor"]):
        result = as_user(hub, WRITE_GROUP, *arguments)
        assert result.returncode == 4 and "whose type has sensitive shadows or commands" in result.stderr, result.stderr
    assert hub.request("GET", "/v1/things/frontdoor")[2]["type"] == "doorlock"
    rest = subprocess.run(["setpriv", "--reuid=nobody", f"--regid={WRITE_GROUP}", "--clear-groups", "curl", "-s",
                           "-i", "--unix-socket", str(hub.socket), "-X", "POST", "--data", json.dumps(UNLOCK),
                           "http://localhost/things/frontdoor/shadow?name=lock"], capture_output=True, text=True)
    assert rest.stdout.startswith("HTTP/1.1 403"), rest.stdout
    assert "x-amzn-ErrorType: ForbiddenException" in rest.stdout
    assert_door_untouched(hub)
    assert hub.request("GET", "/v1/schedules")[2]["schedules"] == []

    # Locking stays ordinary: the write user throws the bolt with the lock command.
    assert as_user(hub, WRITE_GROUP, "lock", "frontdoor", "--wait").returncode == 0

    rows = [row for row in audit(hub) if row["identity"] == "user:nobody"]
    refused = [row for row in rows if row["result"] == 403]
    assert len(refused) >= 3 and all(row["path"] == "api" and needs in row["detail"] for row in refused)
    assert {row["action"] for row in refused} >= {
        "POST /things/frontdoor/shadow", "POST /v1/things/frontdoor/commands (unlock)"}
    assert any(row["action"].endswith("(lock)") and row["result"] == 201 for row in rows)
    schedule_refusals = [row for row in audit(hub, "/v1/schedules") if row["result"] == 403]
    assert len(schedule_refusals) == 2 and all(row["identity"] == "user:nobody" for row in schedule_refusals)


def test_a_sensitive_user_unlocks_with_hubctl_wait(door_hub):
    result = as_user(door_hub, SENSITIVE_GROUP, "unlock", "frontdoor", "--wait")
    assert result.returncode == 0, result.stderr
    assert "SUCCEEDED" in result.stdout
    assert lock_state(door_hub) == "unlocked"
    row = [row for row in audit(door_hub) if row["action"].endswith("(unlock)")][-1]
    assert (row["identity"], row["path"], row["result"]) == ("user:nobody", "api", 201)


def test_mqtt_the_broker_refuses_what_a_role_may_not_publish_and_the_hub_audits_it(door_hub):
    hub = door_hub
    kitchen = add_app(hub, "kitchen", "write")
    assert set(kitchen) >= {"name", "role", "mqtt"} and kitchen["mqtt"]["username"] == "kitchen"
    viewer = add_app(hub, "viewer", "read")
    anonymous = Client(hub.port)
    writer = Client(hub.port, "kitchen", kitchen["mqtt"]["password"])
    reader = Client(hub.port, "viewer", viewer["mqtt"]["password"])
    try:
        assert anonymous.publish(LOCK_TOPIC, UNLOCK) == NOT_AUTHORIZED
        assert writer.publish(LOCK_TOPIC, UNLOCK) == NOT_AUTHORIZED
        assert writer.publish("$aws/things/frontdoor/shadow/name/lock/delete", {}) == NOT_AUTHORIZED
        # Nor can it hand the device a delta of its own making: the answer topics are the hub's.
        assert writer.publish("$aws/things/frontdoor/shadow/name/lock/update/delta",
                              {"state": {"lock": "unlocked"}}) == NOT_AUTHORIZED
        assert anonymous.publish("$aws/things/livingroom/shadow/name/climate/update/accepted", {}) == NOT_AUTHORIZED
        # A client cannot pass itself off as someone else: the stamp is the broker's alone.
        climate = "$aws/things/livingroom/shadow/name/climate/update"
        forged = Properties(PacketTypes.PUBLISH)
        forged.UserProperty = ("homehub-identity", "hub")
        assert writer.publish(climate, {"state": {"desired": {"targetTemperature": 30}}},
                              properties=forged) == NOT_AUTHORIZED
        # Ordinary state is the write role's; reading is everyone's; a reader only reads.
        assert writer.publish(climate, {"state": {"desired": {"targetTemperature": 21}}}) == 0
        assert reader.publish(climate, {"state": {"desired": {"targetTemperature": 25}}}) == NOT_AUTHORIZED
        assert reader.publish("$aws/things/livingroom/shadow/name/climate/get", {}) == 0
        # desired.command belongs to the command ledger: the hub refuses it on the shadow path.
        writer.subscribe("$aws/things/frontdoor/shadow/update/rejected")
        wait_for(lambda: writer.client.is_connected(), what="subscription")
        writer.publish("$aws/things/frontdoor/shadow/update",
                       {"state": {"desired": {"command": [{"command": "unlock"}]}}, "clientToken": "c1"})
        wait_for(lambda: any(topic.endswith("/rejected") for topic, _ in writer.messages), what="the rejection")
        rejection = [body for topic, body in writer.messages if topic.endswith("/rejected")][0]
        assert rejection["code"] == 403 and rejection["clientToken"] == "c1"
        assert "application 'kitchen' may not write desired.command of 'frontdoor'" in rejection["message"]
    finally:
        for client in (anonymous, writer, reader):
            client.close()
    assert_door_untouched(hub)
    wait_for(lambda: len([r for r in audit(hub) if r["path"] == "mqtt" and r["result"] == 403]) >= 4,
             what="the broker's refusals in the audit log")
    rows = [r for r in audit(hub) if r["path"] == "mqtt"]
    who = {(r["identity"], r["target"]) for r in rows if r["result"] == 403}
    assert who >= {("anonymous", "frontdoor/lock"), ("application:kitchen", "frontdoor/lock"),
                   ("application:kitchen", "frontdoor")}
    assert any("a sensitive shadow needs role 'sensitive'" in r["detail"] for r in rows)
    livingroom = audit(hub, "livingroom")
    assert any("carries its own homehub-identity" in r["detail"] for r in livingroom)
    assert any(r["identity"] == "application:kitchen" and r["result"] == 200 for r in livingroom)
    assert any(r["identity"] == "application:viewer" and r["result"] == 403 for r in livingroom)
    metrics = hub.request("GET", "/metrics")[2]
    text = metrics.decode() if isinstance(metrics, bytes) else str(metrics)
    assert 'homehub_access_denied_total{path="mqtt"}' in text


def test_mqtt_an_application_with_role_sensitive_unlocks(door_hub):
    opener = add_app(door_hub, "opener", "sensitive")
    client = Client(door_hub.port, "opener", opener["mqtt"]["password"])
    try:
        assert client.publish(LOCK_TOPIC, UNLOCK) == 0
    finally:
        client.close()
    wait_for(lambda: lock_state(door_hub) == "unlocked", what="the door to unlock")
    row = [r for r in audit(door_hub) if r["path"] == "mqtt"][-1]
    assert (row["identity"], row["action"], row["result"]) == ("application:opener", "update desired", 200)


def test_application_credentials_are_shown_once_rotated_and_revoked(door_hub):
    hub = door_hub
    first = add_app(hub, "tablet", "write")["mqtt"]["password"]
    listed = subprocess.run([str(hub.binary), "--socket", str(hub.socket), "--json", "apps", "list"],
                            capture_output=True, text=True).stdout
    assert "tablet" in listed and first not in listed and "$7$" not in listed
    assert Client(hub.port, "tablet", first).connected == 0
    rotated = subprocess.run([str(hub.binary), "--socket", str(hub.socket), "--json", "apps", "rotate", "tablet"],
                             capture_output=True, text=True)
    second = json.loads(rotated.stdout)["mqtt"]["password"]
    wait_for(lambda: Client(hub.port, "tablet", first).connected != 0, what="the old password to stop working")
    assert Client(hub.port, "tablet", second).connected == 0
    # Only the sensitive role makes identities: a write user cannot mint a key to the door.
    denied = as_user(hub, WRITE_GROUP, "apps", "add", "mine", "--role", "sensitive")
    assert denied.returncode == 4 and "needs group 'staff'" in denied.stderr
    assert subprocess.run([str(hub.binary), "--socket", str(hub.socket), "apps", "remove", "tablet"]).returncode == 0
    wait_for(lambda: Client(hub.port, "tablet", second).connected != 0, what="the removed application to be refused")


def test_an_application_certificate_is_that_application_on_the_tls_listener(door_hub, tmp_path):
    add_app(door_hub, "tablet", "sensitive", "--issue-cert", str(tmp_path))
    tls = {"ca_certs": str(tmp_path / "ca.crt"), "certfile": str(tmp_path / "tablet.crt"),
           "keyfile": str(tmp_path / "tablet.key")}
    client = Client(door_hub.tls_port, tls=tls, client_id="tablet-tls")
    try:
        assert client.connected == 0
        assert client.publish(LOCK_TOPIC, UNLOCK) == 0
    finally:
        client.close()
    wait_for(lambda: lock_state(door_hub) == "unlocked", what="the door to unlock")
    assert [r for r in audit(door_hub) if r["path"] == "mqtt"][-1]["identity"] == "application:tablet"


def test_a_desire_written_before_a_shadow_was_guarded_is_withdrawn_when_it_is(door_hub):
    hub = door_hub
    # A write user prepares an unlock on a door that is not registered yet: an ordinary shadow.
    result = subprocess.run(["setpriv", "--reuid=nobody", f"--regid={WRITE_GROUP}", "--clear-groups", "curl", "-s",
                             "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", str(hub.socket), "-X", "POST",
                             "--data", json.dumps(UNLOCK), "http://localhost/things/backdoor/shadow?name=lock"],
                            capture_output=True, text=True)
    assert result.stdout == "200"
    # The administrator registers it as a door lock: the lock must not open on that old wish.
    registered = subprocess.run([str(hub.binary), "--socket", str(hub.socket), "things", "add", "backdoor",
                                 "--type", "doorlock", "moveSeconds=0.3"], capture_output=True, text=True)
    assert registered.returncode == 0, registered.stderr
    shadow = hub.request("GET", "/things/backdoor/shadow?name=lock")[2]
    assert "desired" not in shadow["state"], shadow
    wait_for(lambda: hub.request("GET", "/things/backdoor/shadow?name=lock")[2]["state"].get("reported", {})
             .get("lockState") == "locked", what="the new lock to read back locked")
    assert any(r["action"] == "withdraw desired" for r in audit(hub, "backdoor"))

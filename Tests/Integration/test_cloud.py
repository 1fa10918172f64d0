"""Sync with AWS IoT Core, against a second homehubd acting as AWS IoT Core (docs/cloud.md).

The "cloud" is a homehubd of its own: its embedded broker's mutual-TLS listener with its own
CA, and AWS's shadow service on it. The house's hub connects to it with a client certificate
that cloud issued (CN app.homehub), configured with exactly the [cloud] keys of docs/cloud.md.
A cloud application changes the cloud's shadows through the cloud hub's REST API and listens on
its broker, as the source document's application does.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from conftest import HUBCTL, Hub, free_port
from conftest import wait_for as wait_at_once


def wait_for(predicate, timeout=15.0, what="condition"):
    """Shadow reads count against a thing's request rate (20/s, as AWS's): poll at 0.1 s."""
    return wait_at_once(predicate, timeout=timeout, what=what, interval=0.1)
from test_plugins import FAST, stage, things

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: hubctl against hubs in /tmp")


class Cloud:
    """AWS IoT Core stand-in: a homehubd with a TLS listener that requires client certificates."""

    def __init__(self, directory):
        directory.mkdir(parents=True, exist_ok=True)
        self.port, self.tls_port = free_port(), free_port()
        self.hub = Hub(directory, (
            f'[hub]\ndata_dir = "{directory}/data"\nsocket = "{directory}/hubctl.sock"\n'
            f'[mqtt]\nmode = "embedded"\nport = {self.port}\ntls_port = {self.tls_port}\nanonymous_role = "none"\n'
            f'[plugins]\ndirs = []\n'))
        self.certs = directory / "house-certs"
        result = hubctl(self.hub, "apps", "add", "homehub", "--role", "sensitive", "--issue-cert", str(self.certs))
        assert result.returncode == 0, result.stderr
        listener = json.loads(hubctl(self.hub, "apps", "add", "phone-app", "--role", "sensitive").stdout)
        self.app_password = listener["mqtt"]["password"]

    def shadow(self, thing, name=None):
        return read_shadow(self.hub, thing, name)

    def state(self, thing, name=None):
        return self.shadow(thing, name).get("state", {})

    def update(self, thing, name, body):
        status, _, answer = self.hub.request(
            "POST", f"/things/{thing}/shadow" + (f"?name={name}" if name else ""), body)
        assert status == 200, answer
        return answer


def hubctl(hub, *arguments):
    import subprocess
    return subprocess.run([str(HUBCTL), "--socket", str(hub.socket), "--json", *arguments], capture_output=True,
                          text=True, timeout=60)


class CloudListener:
    """The cloud application's MQTT side: what arrives on cmd/THING/response."""

    def __init__(self, cloud, topic):
        self.messages = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.username_pw_set("phone-app", cloud.app_password)
        ready = threading.Event()
        self.client.on_connect = lambda *args: ready.set()
        self.client.on_message = self.on_message
        self.client.connect("127.0.0.1", cloud.port)
        self.client.loop_start()
        assert ready.wait(10)
        self.client.subscribe(topic, qos=1)

    def on_message(self, client, userdata, message):
        with self.lock:
            self.messages.append(json.loads(message.payload))

    def statuses(self):
        with self.lock:
            return [m.get("status") for m in self.messages]

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


def house_config(directory, plugins, cloud, allow_sensitive=False):
    return (f'[hub]\ndata_dir = "{directory}/data"\nsocket = "{directory}/hubctl.sock"\n'
            f'[mqtt]\nmode = "embedded"\nport = {free_port()}\nanonymous_role = "none"\n'
            f'[plugins]\ndirs = ["{plugins}"]\n{FAST}'
            f'[cloud]\nendpoint = "localhost"\nport = {cloud.tls_port}\nca_file = "{cloud.certs}/ca.crt"\n'
            f'cert_file = "{cloud.certs}/homehub.crt"\nkey_file = "{cloud.certs}/homehub.key"\n'
            f'client_id = "homehub"\nallow_sensitive = {"true" if allow_sensitive else "false"}\n'
            '[[cloud.sync]]\nthing = "livingroom"\ncloud_thing = "home1-livingroom"\nshadows = ["climate"]\n'
            'direction = "both"\n'
            '[[cloud.sync]]\nthing = "frontdoor"\ncloud_thing = "home1-frontdoor"\nshadows = ["lock"]\n'
            + things(("livingroom", "heater", {"initialTemperature": 18.0, "degreesPerMinute": 600.0,
                                               "tickSeconds": 0.5}),
                     ("frontdoor", "doorlock", {"moveSeconds": 0.3, "readBackSeconds": 0.05})))


@pytest.fixture
def setup():
    base = Path(tempfile.mkdtemp(prefix="homehub-cloud-", dir="/tmp"))
    cloud = Cloud(base / "cloud")
    plugins = base / "plugins"
    stage(plugins)
    house_dir = base / "house"
    house_dir.mkdir()
    house = Hub(house_dir, house_config(house_dir, plugins, cloud))
    house.plugins = plugins
    wait_for(lambda: cloud_status(house)["connected"], what="the house connected to the cloud")
    yield house, cloud
    house.stop()
    cloud.hub.stop()
    shutil.rmtree(base, ignore_errors=True)


def cloud_status(house):
    return house.request("GET", "/v1/cloud")[2]


def read_shadow(hub, thing, name):
    """A shadow document ({} when there is none). Polling loops read often: a 429 (the hub's
    per-thing rate) is read again rather than taken for an answer."""
    def attempt():
        status, _, body = hub.request("GET", f"/things/{thing}/shadow" + (f"?name={name}" if name else ""))
        if status == 429:
            return None
        return (body if status == 200 else {},)
    return wait_for(attempt, what=f"a read of {thing}/{name}")[0]


def local(house, thing, name):
    return read_shadow(house, thing, name).get("state", {})


def test_remote_desired_reaches_the_device_and_the_cloud_sees_it_report(setup):
    house, cloud = setup
    # The full sync at connect put the house's state in the cloud.
    wait_for(lambda: cloud.state("home1-livingroom", "climate").get("reported", {}).get("currentTemperature"),
             what="the heater's reported state in the cloud")
    cloud.update("home1-livingroom", "climate", {"state": {"desired": {"targetTemperature": 22, "mode": "heat"}}})
    wait_for(lambda: local(house, "livingroom", "climate").get("reported", {}).get("targetTemperature") == 22,
             what="the local heater took 22")
    wait_for(lambda: cloud.state("home1-livingroom", "climate").get("reported", {}).get("currentTemperature", 0)
             >= 21.5, timeout=30, what="the cloud sees the room warm")
    assert cloud.state("home1-livingroom", "climate")["reported"]["mode"] == "heat"
    rows = house.request("GET", "/v1/audit?thing=livingroom&limit=50")[2]["entries"]
    assert any(row["identity"] == "cloud" and row["path"] == "cloud" and row["result"] == 200 for row in rows)
    status = cloud_status(house)
    climate = next(s for s in status["shadows"] if s["thing"] == "livingroom" and s["shadow"] == "climate")
    assert climate["lastSync"] is not None and climate["cloudThing"] == "home1-livingroom"
    text = hubctl(house, "cloud", "status").stdout
    assert "connected" in text


def test_local_changes_and_schedules_reach_the_cloud(setup):
    house, cloud = setup
    result = hubctl(house, "set", "livingroom", "targetTemperature=19.5")
    assert result.returncode == 0, result.stderr
    wait_for(lambda: cloud.state("home1-livingroom", "climate").get("desired", {}).get("targetTemperature") == 19.5,
             what="the local change in the cloud")
    program = "daily 00:00 targetTemperature=17; daily 00:01 targetTemperature=17"
    result = hubctl(house, "schedule", "add", "livingroom", "--zone", "UTC", "--program", program)
    assert result.returncode == 0, result.stderr
    wait_for(lambda: cloud.state("home1-livingroom", "climate").get("desired", {}).get("targetTemperature") == 17,
             what="the schedule's change in the cloud")


def test_both_sides_changed_while_apart_merge_as_documented(setup):
    house, cloud = setup
    wait_for(lambda: cloud.state("home1-livingroom", "climate").get("reported", {}).get("targetTemperature"),
             what="the first sync")
    cloud.hub.stop()
    wait_for(lambda: not cloud_status(house)["connected"], what="the house sees the cloud gone")
    assert hubctl(house, "set", "livingroom", "targetTemperature=18", "mode=eco").returncode == 0
    # The house is frozen while the cloud comes back and someone changes the same setting there.
    house.signal(signal.SIGSTOP)
    try:
        cloud.hub.start()
        cloud.update("home1-livingroom", "climate", {"state": {"desired": {"targetTemperature": 25}}})
    finally:
        house.signal(signal.SIGCONT)
    # desired: both changed targetTemperature → the cloud's; only the house changed mode → the house's.
    wait_for(lambda: local(house, "livingroom", "climate").get("desired", {}).get("targetTemperature") == 25,
             timeout=30, what="the cloud's target at home")
    wait_for(lambda: cloud.state("home1-livingroom", "climate").get("desired", {}).get("mode") == "eco",
             timeout=30, what="the house's mode in the cloud")
    assert local(house, "livingroom", "climate")["desired"]["mode"] == "eco"
    assert cloud.state("home1-livingroom", "climate")["desired"]["targetTemperature"] == 25


def test_a_remote_unlock_is_refused_then_allowed_with_allow_sensitive(setup):
    house, cloud = setup
    listener = CloudListener(cloud, "cmd/home1-frontdoor/response")
    try:
        wait_for(lambda: cloud.state("home1-frontdoor", "lock").get("reported", {}).get("lockState") == "locked",
                 what="the lock's state in the cloud")
        # The source document's pattern: a command in the cloud shadow's desired state.
        cloud.update("home1-frontdoor", None,
                     {"state": {"desired": {"command": [{"unlock": {"ttl": 300}}]}}, "clientToken": "phone"})
        wait_for(lambda: "REJECTED" in listener.statuses(), what="the refusal on cmd/home1-frontdoor/response")
        rows = house.request("GET", "/v1/audit?thing=frontdoor&limit=50")[2]["entries"]
        refusal = [row for row in rows if row["identity"] == "cloud" and row["result"] == 403]
        assert refusal and "allow_sensitive" in refusal[-1]["detail"]
        # A desired change of the sensitive shadow is refused too, and undone in the cloud.
        cloud.update("home1-frontdoor", "lock", {"state": {"desired": {"lock": "unlocked"}}})
        wait_for(lambda: cloud.state("home1-frontdoor", "lock").get("desired", {}).get("lock") != "unlocked",
                 what="the cloud's unlock undone")
        assert local(house, "frontdoor", "lock")["reported"]["lockState"] == "locked"
        assert house.request("GET", "/v1/commands?thing=frontdoor")[2]["commands"] == []
        assert cloud.state("home1-frontdoor").get("desired", {}).get("command") is None

        # The household allows it.
        house.stop()
        house.config.write_text(house_config(house.directory, house.plugins, cloud, allow_sensitive=True))
        house.start()
        wait_for(lambda: cloud_status(house)["connected"], what="reconnected")
        cloud.update("home1-frontdoor", None,
                     {"state": {"desired": {"command": [{"commandId": "visitor-1", "command": "unlock"}]}}})
        wait_for(lambda: "SUCCEEDED" in listener.statuses(), what="SUCCEEDED on the response topic")
        assert "RUNNING" in listener.statuses()
        assert local(house, "frontdoor", "lock")["reported"]["lockState"] == "unlocked"
        wait_for(lambda: cloud.state("home1-frontdoor", "lock").get("reported", {}).get("lockState") == "unlocked",
                 what="the cloud sees it unlocked")
        reported = cloud.state("home1-frontdoor").get("reported", {}).get("command", {})
        assert reported.get("commandId") == "visitor-1"
        command = house.request("GET", "/v1/commands?thing=frontdoor")[2]["commands"][0]
        assert command["requester"]["identity"] == "cloud" and command["state"] == "SUCCEEDED"
    finally:
        listener.close()


def test_a_hub_killed_mid_sync_loses_nothing(setup):
    house, cloud = setup
    wait_for(lambda: cloud_status(house)["connected"], what="connected")
    for value in (21, 21.5, 22, 22.5, 23):
        # Five changes at once may meet the thing's request rate (429): each is made, in order.
        wait_for(lambda: hubctl(house, "set", "livingroom", f"targetTemperature={value}").returncode == 0,
                 what=f"targetTemperature={value} accepted")
    house.signal(signal.SIGKILL)
    house.process.wait()
    house.start()
    wait_for(lambda: cloud.state("home1-livingroom", "climate").get("desired", {}).get("targetTemperature") == 23,
             timeout=30, what="the last acknowledged change in the cloud")
    assert local(house, "livingroom", "climate")["desired"]["targetTemperature"] == 23


def test_a_deleted_cloud_shadow_is_put_back_from_the_house(setup):
    house, cloud = setup
    wait_for(lambda: cloud.state("home1-livingroom", "climate").get("reported", {}).get("mode"), what="synced")
    status, _, body = cloud.hub.request("DELETE", "/things/home1-livingroom/shadow?name=climate")
    assert status == 200, body
    wait_for(lambda: cloud.state("home1-livingroom", "climate").get("reported", {}).get("mode"),
             what="the house's state back in the cloud")
    assert local(house, "livingroom", "climate")["reported"]["mode"]  # the house's shadow is untouched


def test_a_rejected_certificate_is_said_in_words(tmp_path):
    base = Path(tempfile.mkdtemp(prefix="homehub-cloud-", dir="/tmp"))
    cloud = Cloud(base / "cloud")
    other = Cloud(base / "other")  # another CA: the house does not trust the cloud's server
    house_dir = base / "house"
    house_dir.mkdir()
    config = house_config(house_dir, base / "plugins", cloud).replace(
        f'ca_file = "{cloud.certs}/ca.crt"', f'ca_file = "{other.certs}/ca.crt"')
    house = Hub(house_dir, config)
    try:
        status = wait_for(lambda: (lambda s: s if s["lastError"] else None)(cloud_status(house)),
                          what="the connection's error")
        assert status["connected"] is False
        assert "TLS" in status["lastError"] and "ca_file" in status["lastError"], status["lastError"]
        text = hubctl(house, "cloud", "status").stdout
        assert "lastError" in text or "TLS" in text
    finally:
        house.stop()
        cloud.hub.stop()
        other.hub.stop()
        shutil.rmtree(base, ignore_errors=True)



def test_a_wrong_clock_is_said_in_words(tmp_path):
    """A hub whose clock is behind sees the cloud's certificate as not yet valid. libfaketime
    cannot shift a Swift binary's clock (it loses the program's arguments), so the certificate
    is made to start in 2031 instead: the same check fails the same way."""
    certs = tmp_path / "pki"
    certs.mkdir()

    def openssl(*arguments):
        subprocess.run(["openssl", *arguments], cwd=certs, check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "3650",
            "-subj", "/CN=cloud test CA")
    (certs / "index.txt").write_text("")
    (certs / "serial").write_text("01\n")
    (certs / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    (certs / "ca.cnf").write_text(
        "[ca]\ndefault_ca = cloud\n[cloud]\ndir = .\ndatabase = index.txt\nserial = serial\n"
        "new_certs_dir = .\ncertificate = ca.crt\nprivate_key = ca.key\ndefault_md = sha256\n"
        "policy = any\ncopy_extensions = copy\n[any]\ncommonName = supplied\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")
    openssl("ca", "-config", "ca.cnf", "-batch", "-in", "server.csr", "-out", "server.crt",
            "-startdate", "20310101000000Z", "-enddate", "20320101000000Z")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "house.key", "-out", "house.csr",
            "-subj", "/CN=app.homehub")
    openssl("x509", "-req", "-in", "house.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "house.crt", "-days", "2")
    base = Path(tempfile.mkdtemp(prefix="homehub-cloud-", dir="/tmp"))
    cloud_dir = base / "cloud"
    cloud_dir.mkdir()
    tls_port = free_port()
    cloud = Hub(cloud_dir, (
        f'[hub]\ndata_dir = "{cloud_dir}/data"\nsocket = "{cloud_dir}/hubctl.sock"\n'
        f'[mqtt]\nmode = "embedded"\nport = {free_port()}\ntls_port = {tls_port}\nanonymous_role = "none"\n'
        f'ca_file = "{certs}/ca.crt"\ncert_file = "{certs}/server.crt"\nkey_file = "{certs}/server.key"\n'
        '[plugins]\ndirs = []\n'))
    house_dir = base / "house"
    house_dir.mkdir()
    house = Hub(house_dir, (
        f'[hub]\ndata_dir = "{house_dir}/data"\nsocket = "{house_dir}/hubctl.sock"\n'
        f'[mqtt]\nmode = "embedded"\nport = {free_port()}\nanonymous_role = "none"\n[plugins]\ndirs = []\n'
        f'[cloud]\nendpoint = "localhost"\nport = {tls_port}\nca_file = "{certs}/ca.crt"\n'
        f'cert_file = "{certs}/house.crt"\nkey_file = "{certs}/house.key"\n'
        '[[cloud.sync]]\nthing = "livingroom"\nshadows = ["climate"]\n'))
    try:
        status = wait_for(lambda: (lambda s: s if s["lastError"] else None)(cloud_status(house)),
                          timeout=40, what="the connection's error")
        assert status["connected"] is False
        assert "clock" in status["lastError"] and "ca_file" in status["lastError"], status["lastError"]
    finally:
        house.stop()
        cloud.stop()
        shutil.rmtree(base, ignore_errors=True)

"""Device identity and confinement: the hub's CA issues a client certificate per thing
(`hubctl things add THING --issue-cert DIR`), the embedded broker's TLS listener requires one,
and its ACL keeps each device on its own thing's topics."""
import json
import queue
import ssl
import stat

import paho.mqtt.client as mqtt
import pytest

from conftest import Hub, free_port, hubctl, wait_for


class TLSDevice:
    """A paho client on the hub's TLS listener with a thing's certificate."""

    def __init__(self, port, directory, thing):
        self.messages = queue.Queue()
        self.granted = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"tls-{thing}")
        self.client.tls_set(ca_certs=str(directory / "ca.crt"), certfile=str(directory / f"{thing}.crt"),
                            keyfile=str(directory / f"{thing}.key"))
        self.disconnected = queue.Queue()
        self.client.on_message = lambda c, u, m: self.messages.put((m.topic, json.loads(m.payload)))
        self.client.on_disconnect = lambda *arguments: self.disconnected.put(True)
        self.client.on_subscribe = lambda c, u, mid, codes, props: self.granted.put([int(x.value) for x in codes])
        self.client.connect("localhost", port)
        self.client.loop_start()

    def subscribe(self, topic):
        self.client.subscribe(topic, qos=1)
        return self.granted.get(timeout=10)

    def publish(self, topic, payload):
        self.client.publish(topic, json.dumps(payload), qos=1).wait_for_publish(timeout=10)

    def next(self, timeout=10):
        return self.messages.get(timeout=timeout)

    def until(self, topic, timeout=10):
        """Messages up to and including the next one on `topic`: [(topic, body), …]."""
        seen = [self.next(timeout)]
        while seen[-1][0] != topic:
            seen.append(self.next(timeout))
        return seen

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def tls_hub(tmp_path):
    port, tls_port = free_port(), free_port()
    hub = Hub(tmp_path, f'[hub]\ndata_dir = "{tmp_path}/data"\nsocket = "{tmp_path}/hubctl.sock"\n'
                        f'[mqtt]\nmode = "embedded"\nport = {port}\ntls_port = {tls_port}\n[plugins]\ndirs = []\n')
    hub.tls_port = tls_port
    yield hub
    hub.stop()


def test_a_device_is_confined_to_its_own_thing_and_no_certificate_no_entry(tls_hub, tmp_path):
    certs = tmp_path / "device-certs"
    for thing in ("alpha", "beta"):
        result = hubctl(tls_hub, "things", "add", thing, "--issue-cert", str(certs))
        assert result.returncode == 0, result.stderr
        assert f"port {tls_hub.tls_port}" in result.stdout
    assert stat.S_IMODE((certs / "alpha.key").stat().st_mode) == 0o600
    assert b"BEGIN CERTIFICATE" in (certs / "alpha.crt").read_bytes()

    alpha = TLSDevice(tls_hub.tls_port, certs, "alpha")
    try:
        assert alpha.subscribe("$aws/things/alpha/shadow/#") == [1]
        # Its own shadow: allowed.
        alpha.publish("$aws/things/alpha/shadow/update", {"state": {"reported": {"on": True}}})
        assert alpha.until("$aws/things/alpha/shadow/update/accepted")[-1][1]["version"] == 1
        # It may subscribe to another thing's topics (mosquitto 2.0 grants the SUBACK), but the
        # ACL keeps every message on them from it.
        alpha.subscribe("$aws/things/beta/shadow/#")
        alpha.subscribe("cmd/beta/#")
        assert tls_hub.request("POST", "/things/beta/shadow", {"state": {"desired": {"open": True}}})[0] == 200
        tls_hub.request("POST", "/things/alpha/shadow", {"state": {"desired": {"on": True}}})
        seen = [topic for topic, _ in alpha.until("$aws/things/alpha/shadow/update/documents")]
        assert all("/beta/" not in t for t in seen), seen
        # Changing another thing's shadow: the broker drops the message and disconnects it.
        alpha.publish("$aws/things/beta/shadow/update", {"state": {"desired": {"open": False}}})
        alpha.disconnected.get(timeout=10)
        _, _, beta = tls_hub.request("GET", "/things/beta/shadow")
        assert beta["version"] == 1 and beta["state"]["desired"] == {"open": True}
    finally:
        alpha.close()

    # Without a certificate: the broker ends the TLS session; the client never gets a CONNACK.
    outcome = queue.Queue()
    anonymous = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="no-cert", reconnect_on_failure=False)
    anonymous.tls_set(ca_certs=str(certs / "ca.crt"))
    anonymous.on_connect = lambda c, u, f, rc, p: outcome.put(("connected", rc))
    anonymous.on_disconnect = lambda *arguments: outcome.put(("disconnected", None))
    try:
        anonymous.connect("localhost", tls_hub.tls_port)
        anonymous.loop_start()
        event, code = outcome.get(timeout=10)
        assert event == "disconnected" or code != 0, "a client without a certificate was let in"
    except (ssl.SSLError, OSError):
        pass  # refused during the handshake
    finally:
        anonymous.loop_stop()


def test_certificates_are_issued_for_registered_things_only(tls_hub, tmp_path):
    result = hubctl(tls_hub, "things", "add", "gamma", "--issue-cert", str(tmp_path / "c"))
    assert result.returncode == 0
    status, _, body = tls_hub.request("POST", "/v1/things/nobody-here/certificate")
    assert status == 404 and "not registered" in body["message"]

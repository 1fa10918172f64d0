"""Fixtures for the integration tests: a real mosquitto, the built homehubd, a test CA.

Everything waits for events with deadlines (``wait_for``, queue timeouts); nothing sleeps to
let time pass.
"""
import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

ROOT = Path(__file__).resolve().parents[2]
HOMEHUBD = Path(os.environ.get("HOMEHUBD", ROOT / ".build/debug/homehubd"))
MOSQUITTO = os.environ.get("MOSQUITTO", "/usr/sbin/mosquitto")


HUBCTL = Path(os.environ.get("HUBCTL", ROOT / ".build/debug/hubctl"))


def hubctl(hub, *arguments, user=None, binary=HUBCTL):
    """Runs the built hubctl against `hub`; with `user`, as that user (setpriv, group nogroup)."""
    command = [str(binary), "--socket", str(hub.socket), *arguments]
    if user:
        command = ["setpriv", f"--reuid={user}", "--regid=nogroup", "--clear-groups", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def wait_for(predicate, timeout=15.0, what="condition", interval=0.02):
    """Polls `predicate` every `interval` seconds until it returns a truthy value or the deadline
    passes. A predicate that reads a shadow counts against the hub's per-thing request rate (20/s):
    such loops poll at 0.1 s, so that the test does not starve what it waits for."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def http_request(socket_path, method, path, body=None, headers=None):
    """One request on the control socket: (status, headers, parsed JSON or raw bytes)."""
    connection = UnixHTTPConnection(str(socket_path))
    try:
        payload = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        connection.request(method, path, body=payload, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data
        return response.status, dict(response.getheaders()), parsed
    finally:
        connection.close()


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """A test CA, a server certificate for localhost, and client certificates."""
    directory = tmp_path_factory.mktemp("certs")

    def run(*arguments):
        subprocess.run(["openssl", *arguments], cwd=directory, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "2", "-subj", "/CN=homehub test CA")
    (directory / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for name, subject, extensions in [("server", "/CN=localhost", ["-extfile", "server.ext"]),
                                      ("device", "/CN=sdk-thing", [])]:
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
            "-subj", subject)
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.crt", "-days", "2", *extensions)
    return directory


class Broker:
    """A mosquitto of our own: a plain listener and a TLS listener that requires certificates."""

    def __init__(self, directory, certs):
        self.directory = directory
        self.port = free_port()
        self.tls_port = free_port()
        self.config = directory / "mosquitto.conf"
        self.config.write_text(
            "per_listener_settings true\n"
            "persistence false\nlog_dest stderr\nlog_type error\nset_tcp_nodelay true\n"
            "max_queued_messages 0\n"
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            f"listener {self.tls_port} 127.0.0.1\n"
            f"cafile {certs}/ca.crt\ncertfile {certs}/server.crt\nkeyfile {certs}/server.key\n"
            "require_certificate true\nuse_identity_as_username true\n")
        if os.geteuid() == 0:
            self.config.write_text(self.config.read_text() + "user root\n")
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen([MOSQUITTO, "-c", str(self.config)], stderr=subprocess.DEVNULL)
        wait_for(self.accepts, what=f"mosquitto on port {self.port}")

    def accepts(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


class Hub:
    """The built homehubd with a configuration of the test's choosing."""

    def __init__(self, directory, config_text, env=None):
        self.directory = directory
        self.env = env
        self.socket = directory / "hubctl.sock"
        self.config = directory / "hub.toml"
        self.config.write_text(config_text)
        self.log = directory / "homehubd.log"
        self.process = None
        self.start()

    def start(self):
        with open(self.log, "ab") as log:
            environment = {**os.environ, **self.env} if self.env else None
            self.process = subprocess.Popen([str(HOMEHUBD), "--config", str(self.config)], stderr=log, stdout=log,
                                            env=environment)
        wait_for(self.ready, what=f"homehubd health (log: {self.log})")

    def ready(self):
        if self.process.poll() is not None:
            raise AssertionError(f"homehubd exited with {self.process.returncode}:\n{self.log.read_text()}")
        try:
            status, _, _ = http_request(self.socket, "GET", "/v1/health")
            return status == 200
        except OSError:
            return False

    def request(self, method, path, body=None):
        return http_request(self.socket, method, path, body)

    def signal(self, number):
        self.process.send_signal(number)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_text(self):
        return self.log.read_text(errors="replace")


def external_config(directory, broker, extra=""):
    return (f'[hub]\ndata_dir = "{directory}/data"\nsocket = "{directory}/hubctl.sock"\n'
            f'[mqtt]\nmode = "external"\nhost = "127.0.0.1"\nport = {broker.port}\n'
            f'[plugins]\ndirs = []\n{extra}')


@pytest.fixture
def broker(tmp_path, certs):
    instance = Broker(tmp_path, certs)
    yield instance
    instance.stop()


@pytest.fixture
def hub(tmp_path, broker):
    instance = Hub(tmp_path, external_config(tmp_path, broker))
    yield instance
    instance.stop()


class Device:
    """A plain paho-mqtt client that records everything under a thing's shadow topics."""

    def __init__(self, port, thing, client_id=None):
        self.messages = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id or f"device-{thing}")
        self.client.on_message = lambda client, userdata, message: self.messages.put(
            (message.topic, message.payload))
        subscribed = queue.Queue()
        self.client.on_subscribe = lambda *arguments: subscribed.put(True)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(f"$aws/things/{thing}/shadow/#", qos=1)
        subscribed.get(timeout=10)
        self.thing = thing

    def publish(self, topic, payload, qos=1):
        if not isinstance(payload, (bytes, str)):
            payload = json.dumps(payload)
        info = self.client.publish(topic, payload, qos=qos)
        info.wait_for_publish(timeout=10)

    def expect(self, suffix, timeout=10):
        """The next message whose topic ends with `suffix` (others before it are kept)."""
        return self.expect_any([suffix], timeout)[1]

    def expect_any(self, suffixes, timeout=10):
        """The next message on any of the suffixes: (suffix, parsed payload)."""
        suffix = " or ".join(suffixes)
        deadline = time.monotonic() + timeout
        skipped = []
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no message on …/{suffix} within {timeout} s; saw {[t for t, _ in skipped]}")
                topic, payload = self.messages.get(timeout=remaining)
                for candidate in suffixes:
                    if topic.endswith("/" + candidate):
                        return candidate, (json.loads(payload) if payload else None)
                skipped.append((topic, payload))
        finally:
            for item in skipped:
                self.messages.put(item)

    def drain(self):
        items = []
        while True:
            try:
                items.append(self.messages.get_nowait())
            except queue.Empty:
                return items

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()

#!/usr/bin/env python3
"""`make bench`'s cloud part: the round trip of a remote change — desired set in the cloud →
cloud sync → the hub → the heater plugin converges → reported → cloud sync → the cloud's
reported — beside the same round trip made locally (desired set on the hub → the plugin →
reported on the hub), in one run (p50 and p99).

The cloud is a second release homehubd standing in for AWS IoT Core (its mutual-TLS listener;
the house logs in with a certificate it issued), as in Tests/Integration/test_cloud.py. Each
round trip is timed from the REST request to the MQTT `update/documents` message whose reported
target is the value asked for. The simulated heater reports a new target as soon as it gets it,
and its room once a second: a device that reports more often than 5 times a second spends the
cloud thing's update budget (docs/cloud.md), and the remote figure then includes that wait.

Usage: bench-cloud.py HOMEHUBD HUBCTL PLUGINS_DIR [--quick]
"""
import http.client
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import paho.mqtt.client as mqtt

DEBUG = None


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def request(socket_path, method, path, body=None):
    while True:
        connection = UnixConnection(socket_path)
        connection.request(method, path, body=json.dumps(body) if body is not None else None)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        if response.status != 429:
            return response.status, json.loads(data) if data else None
        time.sleep(0.1)  # the thing's request rate (20/s): ask again, without spending it all


def wait(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            sys.exit(f"bench-cloud: timed out waiting for {what}")
        time.sleep(0.01)


def start(homehubd, directory, config):
    (directory / "hub.toml").write_text(config)
    process = subprocess.Popen([homehubd, "--config", str(directory / "hub.toml")],
                               stdout=subprocess.DEVNULL, stderr=open(directory / "log", "wb"))
    socket_path = str(directory / "hubctl.sock")

    def healthy():
        try:
            return request(socket_path, "GET", "/v1/health")[0] == 200
        except OSError:
            return False
    wait(healthy, 30, f"homehubd in {directory}")
    return process, socket_path


class Watcher:
    """Times the first `update/documents` whose reported target equals the wanted value."""

    def __init__(self, port, username, password, topic):
        self.wanted, self.event, self.arrived = None, threading.Event(), None
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(username, password)
        ready = threading.Event()
        self.client.on_connect = lambda *args: ready.set()
        self.client.on_message = self.on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        ready.wait(10)
        self.client.subscribe(topic, qos=1)

    def on_message(self, client, userdata, message):
        document = json.loads(message.payload)
        reported = document.get("current", {}).get("state", {}).get("reported", {})
        if self.wanted is not None and reported.get("targetTemperature") == self.wanted and not self.event.is_set():
            self.arrived = time.perf_counter()
            self.event.set()

    def round_trip(self, change):
        self.event.clear()
        started = time.perf_counter()
        change()
        if not self.event.wait(20):
            if DEBUG:
                DEBUG()
            sys.exit(f"bench-cloud: a round trip to {self.wanted} did not complete within 20 s")
        return self.arrived - started


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    homehubd, hubctl, plugins = sys.argv[1], sys.argv[2], sys.argv[3]
    count = 20 if "--quick" in sys.argv else 100
    base = tempfile.mkdtemp(prefix="homehub-bench-cloud-", dir="/tmp")
    from pathlib import Path
    base = Path(base)
    processes = []
    try:
        cloud_dir, house_dir = base / "cloud", base / "house"
        cloud_dir.mkdir()
        house_dir.mkdir()
        tls_port = free_port()
        cloud_port = free_port()
        process, cloud_socket = start(homehubd, cloud_dir, (
            f'[hub]\ndata_dir = "{cloud_dir}/data"\nsocket = "{cloud_socket_path(cloud_dir)}"\n'
            f'[mqtt]\nmode = "embedded"\nport = {cloud_port}\ntls_port = {tls_port}\nanonymous_role = "none"\n'
            '[plugins]\ndirs = []\n'))
        processes.append(process)

        def app(socket_path, name, *extra):
            result = subprocess.run([hubctl, "--socket", socket_path, "--json", "apps", "add", name, "--role",
                                     "sensitive", *extra], capture_output=True, text=True, check=True)
            return json.loads(result.stdout)["mqtt"]["password"]
        certs = base / "certs"
        app(cloud_socket, "homehub", "--issue-cert", str(certs))
        cloud_password = app(cloud_socket, "bench")
        house_port = free_port()
        process, house_socket = start(homehubd, house_dir, (
            f'[hub]\ndata_dir = "{house_dir}/data"\nsocket = "{house_dir}/hubctl.sock"\n'
            f'[mqtt]\nmode = "embedded"\nport = {house_port}\nanonymous_role = "none"\n'
            f'[plugins]\ndirs = ["{plugins}"]\n'
            f'[cloud]\nendpoint = "localhost"\nport = {tls_port}\nca_file = "{certs}/ca.crt"\n'
            f'cert_file = "{certs}/homehub.crt"\nkey_file = "{certs}/homehub.key"\n'
            '[[cloud.sync]]\nthing = "livingroom"\ncloud_thing = "home1-livingroom"\nshadows = ["climate"]\n'
            '[[things]]\nname = "livingroom"\ntype = "heater"\n'
            'config = { initialTemperature = 18.0, degreesPerMinute = 600.0, tickSeconds = 1.0 }\n'))
        processes.append(process)
        house_password = app(house_socket, "bench")
        wait(lambda: request(house_socket, "GET", "/v1/cloud")[1]["connected"], 30, "the house connected")
        documents = "$aws/things/{}/shadow/name/climate/update/documents"
        remote = Watcher(cloud_port, "bench", cloud_password, documents.format("home1-livingroom"))
        local = Watcher(house_port, "bench", house_password, documents.format("livingroom"))
        results = {"local": [], "remote": [], "remote-busy": []}

        def debug():
            print("house", request(house_socket, "GET", "/things/livingroom/shadow?name=climate")[1]["state"])
            print("cloud", request(cloud_socket, "GET", "/things/home1-livingroom/shadow?name=climate")[1]["state"])
            print("status", json.dumps(request(house_socket, "GET", "/v1/cloud")[1])[:1200])
            rows = request(house_socket, "GET", "/v1/audit?thing=livingroom&limit=12")[1]["entries"]
            for row in rows:
                print(row["identity"], row["path"], row["action"], row["result"], (row.get("detail") or "")[:120])
        global DEBUG
        DEBUG = debug if "--debug" in sys.argv else None
        def remote_trip(value):
            remote.wanted = value
            return remote.round_trip(lambda: request(
                cloud_socket, "POST", "/things/home1-livingroom/shadow?name=climate",
                {"state": {"desired": {"targetTemperature": value}}}))
        for index in range(count * 2):
            value = 10 + (index % 40) * 0.5
            if index % 2 == 0:
                local.wanted = value
                results["local"].append(local.round_trip(lambda: request(
                    house_socket, "POST", "/things/livingroom/shadow?name=climate",
                    {"state": {"desired": {"targetTemperature": value}}})))
            else:
                # Paced: a person's changes, well inside the cloud thing's update budget.
                time.sleep(0.5)
                results["remote"].append(remote_trip(value))
        # Back to back: changes faster than the budget (5 updates a second per cloud thing).
        for index in range(count):
            results["remote-busy"].append(remote_trip(25 + (index % 10) * 0.5))
        print(f"\ncloud round trip: desired → the heater plugin → reported, {count} each")
        print(f"{'path':<56}{'p50 ms':>10}{'p99 ms':>10}")
        for name, label in (("local", "local (hub REST → plugin → hub documents)"),
                            ("remote", "remote, paced (cloud → hub → plugin → cloud)"),
                            ("remote-busy", "remote, back to back (over the 5/s thing budget)")):
            values = results[name]
            print(f"{label:<56}{statistics.median(values) * 1000:>10.1f}{percentile(values, 0.99) * 1000:>10.1f}")
        remote.client.loop_stop()
        local.client.loop_stop()
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=20)
        shutil.rmtree(base, ignore_errors=True)


def cloud_socket_path(directory):
    return f"{directory}/hubctl.sock"


if __name__ == "__main__":
    main()

"""homehubd as a process: configuration, embedded broker, broker restarts, SIGTERM, SIGKILL."""
import json
import signal
import socket
import subprocess

import pytest

from conftest import HOMEHUBD, Device, Hub, external_config, free_port, http_request, hubctl, wait_for


def test_check_config_names_the_key_and_the_expected_type(tmp_path):
    good = tmp_path / "good.toml"
    good.write_text('[hub]\ndata_dir = "/tmp/x"\n[plugins]\ndirs = []\n')
    assert subprocess.run([str(HOMEHUBD), "--check-config", str(good)], capture_output=True).returncode == 0
    for text, needle in [
        ('[mqtt]\nport = "1884"\n', "'mqtt.port' must be an integer, got a string"),
        ('[mqtt]\nprot = 1884\n', "'mqtt.prot' is not a known key"),
        ('[shadows]\nrequire_registered_things = 1\n', "'shadows.require_registered_things' must be a boolean"),
        ('[mqtt]\nmode = "cloud"\n', "'mqtt.mode' must be \"embedded\" or \"external\""),
        ('[hub\n', "line 1"),
    ]:
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        result = subprocess.run([str(HOMEHUBD), "--check-config", str(bad)], capture_output=True, text=True)
        assert result.returncode != 0 and needle in result.stderr, result.stderr


def test_embedded_broker_serves_devices_and_is_restarted_when_it_dies(tmp_path):
    port = free_port()
    hub = Hub(tmp_path, f'[hub]\ndata_dir = "{tmp_path}/data"\nsocket = "{tmp_path}/hubctl.sock"\n'
                        f'[mqtt]\nmode = "embedded"\nport = {port}\nanonymous_role = "write"\n[plugins]\ndirs = []\n')
    try:
        device = Device(port, "embedded")
        device.publish("$aws/things/embedded/shadow/update", {"state": {"reported": {"up": True}}})
        assert device.expect("update/accepted")["version"] == 1
        device.close()
        broker_pid = int(subprocess.run(["pgrep", "-f", f"mosquitto -c {tmp_path}/data/mosquitto.conf"],
                                        capture_output=True, text=True, check=True).stdout.split()[0])
        subprocess.run(["kill", "-9", str(broker_pid)], check=True)
        wait_for(lambda: "restarting" in hub.log_text(), what="the hub to notice the broker died")
        wait_for(hub.ready, what="the hub to be ready again")
        device = Device(port, "embedded")
        device.publish("$aws/things/embedded/shadow/update", {"state": {"reported": {"up": 2}}})
        assert device.expect("update/accepted")["version"] == 2
        device.close()
    finally:
        hub.stop()
    assert hub.process.returncode == 0, hub.log_text()


def test_a_busy_broker_port_is_one_error_naming_the_port_and_the_key(tmp_path):
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        config = (f'[hub]\ndata_dir = "{tmp_path}/data"\nsocket = "{tmp_path}/hubctl.sock"\n'
                  f'[mqtt]\nmode = "embedded"\nport = {port}\nanonymous_role = "write"\n[plugins]\ndirs = []\n')
        (tmp_path / "hub.toml").write_text(config)
        log = open(tmp_path / "homehubd.log", "wb")
        process = subprocess.Popen([str(HOMEHUBD), "--config", str(tmp_path / "hub.toml")], stdout=log, stderr=log)
        try:
            def health_problem():
                try:
                    status, _, body = http_request(tmp_path / "hubctl.sock", "GET", "/v1/health")
                except OSError:
                    return None
                return status == 503 and body["broker"]["problem"]
            problem = wait_for(health_problem, what="/v1/health to say why the broker is down")
            assert f"127.0.0.1:{port}" in problem and "mqtt.port" in problem, problem
            status = hubctl(type("H", (), {"socket": tmp_path / "hubctl.sock"}), "status")
            assert "mqtt.port" in status.stdout, status.stdout
            text = (tmp_path / "homehubd.log").read_text(errors="replace")
            assert "the port is in use" in text and "mqtt.port" in text
        finally:
            process.terminate()
            process.wait(timeout=15)
            log.close()


def test_broker_killed_and_restarted_hub_reconnects_and_loses_nothing(tmp_path, broker, hub):
    for value in range(5):
        assert hub.request("POST", "/things/durable/shadow", {"state": {"reported": {"v": value}}})[0] == 200
    broker.kill()
    wait_for(lambda: http_request(hub.socket, "GET", "/v1/health")[0] == 503, what="health to report the loss")
    broker.start()
    wait_for(hub.ready, what="the hub to reconnect")
    device = Device(broker.port, "durable")
    try:
        device.publish("$aws/things/durable/shadow/get", b"")
        got = device.expect("get/accepted")
        assert got["version"] == 5 and got["state"]["reported"] == {"v": 4}
    finally:
        device.close()


def test_sigterm_stops_cleanly_and_state_survives_a_restart(tmp_path, broker, hub):
    assert hub.request("POST", "/things/keep/shadow", {"state": {"desired": {"x": 1}}})[0] == 200
    hub.signal(signal.SIGTERM)
    assert hub.process.wait(timeout=15) == 0
    assert not hub.socket.exists()
    hub.start()
    status, _, body = hub.request("GET", "/things/keep/shadow")
    assert status == 200 and body["version"] == 1 and body["state"]["desired"] == {"x": 1}


def test_sigkill_mid_stream_loses_no_acknowledged_update(tmp_path, broker, hub):
    """Devices update as fast as they can; every update acknowledged before SIGKILL survives."""
    import paho.mqtt.client as mqtt
    import threading

    acknowledged = {}
    lock = threading.Lock()
    clients = []
    for number in range(10):
        thing = f"load{number}"
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=thing)

        def on_message(client, userdata, message, thing=thing):
            version = json.loads(message.payload)["version"]
            with lock:
                acknowledged[thing] = max(acknowledged.get(thing, 0), version)

        client.on_message = on_message
        client.connect("127.0.0.1", broker.port)
        client.subscribe(f"$aws/things/{thing}/shadow/update/accepted", qos=1)
        client.loop_start()
        clients.append((thing, client))
    for round_number in range(60):
        for thing, client in clients:
            client.publish(f"$aws/things/{thing}/shadow/update",
                           json.dumps({"state": {"reported": {"n": round_number}}}), qos=1)
    wait_for(lambda: sum(acknowledged.values()) >= 100, what="some acknowledgements")
    hub.signal(signal.SIGKILL)
    hub.process.wait(timeout=10)
    with lock:
        seen = dict(acknowledged)
    for _, client in clients:
        client.loop_stop()
        client.disconnect()
    hub.start()
    for thing, version in seen.items():
        status, _, body = hub.request("GET", f"/things/{thing}/shadow")
        assert status == 200 and body["version"] >= version, (thing, version, body)


def test_external_broker_over_tls_with_a_client_certificate(tmp_path, broker, certs):
    extra = (f'ca_file = "{certs}/ca.crt"\ncert_file = "{certs}/device.crt"\nkey_file = "{certs}/device.key"\n')
    config = external_config(tmp_path, broker).replace(f"port = {broker.port}\n",
                                                       f'port = {broker.tls_port}\nhost = "localhost"\n' + extra)
    config = config.replace('host = "127.0.0.1"\n', "", 1)
    hub = Hub(tmp_path, config)
    try:
        device = Device(broker.port, "tls")
        device.publish("$aws/things/tls/shadow/update", {"state": {"reported": {"secure": True}}})
        assert device.expect("update/accepted")["version"] == 1
        device.close()
    finally:
        hub.stop()

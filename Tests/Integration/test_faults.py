"""Faults the hub must survive without losing what it acknowledged: a SIGKILL under 100 devices
and a full disk. For the full disk, the data
directory is a 2 MB tmpfs in the hub's own mount namespace, filled up by a file the test
removes (through /proc/PID/root) to give the space back."""
import json
import os
import signal
import subprocess

import pytest

from conftest import HOMEHUBD, external_config, http_request, wait_for


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs in a private mount namespace")
def test_a_full_disk_rejects_updates_clearly_corrupts_nothing_and_service_resumes(tmp_path, broker):
    data = tmp_path / "data"
    data.mkdir()
    socket_path = tmp_path / "hubctl.sock"
    config = tmp_path / "hub.toml"
    config.write_text(external_config(tmp_path, broker))
    log = open(tmp_path / "homehubd.log", "wb")
    script = (f"mount -t tmpfs -o size=2m tmpfs {data} && "
              f"head -c 1400000 /dev/zero > {data}/filler && exec {HOMEHUBD} --config {config}")
    hub = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                           stdout=log, stderr=log)
    try:
        def ready():
            assert hub.poll() is None, (tmp_path / "homehubd.log").read_text()
            try:
                return http_request(socket_path, "GET", "/v1/health")[0] == 200
            except OSError:
                return False
        wait_for(ready, what="homehubd on a small disk")
        inside = f"/proc/{hub.pid}/root{data}"

        acknowledged = {}
        refused = None
        for index in range(2000):
            thing = f"t{index}"
            body = {"state": {"reported": {"blob": "x" * 6000, "index": index}}}
            status, _, answer = http_request(socket_path, "POST", f"/things/{thing}/shadow", body)
            if status == 200:
                acknowledged[thing] = answer["version"]
                continue
            refused = (status, answer)
            break
        assert refused is not None, "the disk never filled"
        assert refused[0] in (500, 503), refused
        assert len(acknowledged) > 10
        text = (tmp_path / "homehubd.log").read_text(errors="replace")
        assert "shadow write failed" in text and ("full" in text or "FULL" in text), text[-2000:]
        # The hub still serves reads, and says nothing was lost.
        assert http_request(socket_path, "GET", "/things/t0/shadow")[0] == 200

        # Space comes back: writes work again, without a restart.
        os.unlink(f"{inside}/filler")
        status, _, _ = http_request(socket_path, "POST", "/things/after/shadow",
                                    {"state": {"reported": {"back": True}}})
        assert status == 200

        # Every acknowledged update is in the database, which is intact.
        # (Read inside the hub's mount namespace: SQLite resolves /proc/PID/root to the real path.)
        check = ("import json, sqlite3, sys; d = sqlite3.connect(sys.argv[1], timeout=10); "
                 "print(json.dumps([d.execute('PRAGMA integrity_check').fetchone()[0], "
                 "dict(d.execute(\"SELECT thing, version FROM shadows WHERE shadow = ''\").fetchall())]))")
        output = subprocess.run(["nsenter", "-t", str(hub.pid), "-m", "python3", "-c", check, f"{data}/hub.db"],
                                capture_output=True, text=True, check=True).stdout
        integrity, stored = json.loads(output)
        assert integrity == "ok"
        missing = {t: v for t, v in acknowledged.items() if stored.get(t) != v}
        assert not missing, f"acknowledged but not stored: {list(missing)[:5]}"
    finally:
        hub.terminate()
        hub.wait(timeout=15)
        log.close()


def test_sigkill_under_100_devices_loses_nothing_acknowledged_and_versions_stay_contiguous(tmp_path, broker):
    """100 devices stream updates (about 1000/s here) through an external broker; homehubd is
    SIGKILLed mid-stream. Every acknowledged version is durable, no device saw a version twice,
    and after the restart the stored version is at least every version a device saw and the next
    one follows it."""
    import threading
    import time

    import paho.mqtt.client as mqtt

    from conftest import Hub

    hub = Hub(tmp_path, external_config(tmp_path, broker))
    accepted = {}
    lock = threading.Lock()
    clients = []
    try:
        for number in range(100):
            thing = f"dev{number}"
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=thing)

            def on_message(client, userdata, message, thing=thing):
                with lock:
                    accepted.setdefault(thing, []).append(json.loads(message.payload)["version"])

            client.on_message = on_message
            client.connect("127.0.0.1", broker.port)
            client.subscribe(f"$aws/things/{thing}/shadow/update/accepted", qos=1)
            client.loop_start()
            clients.append((thing, client))
        started = time.monotonic()
        for round_number in range(40):
            for thing, client in clients:
                client.publish(f"$aws/things/{thing}/shadow/update",
                               json.dumps({"state": {"reported": {"n": round_number}}}), qos=1)
            if round_number == 10:
                wait_for(lambda: sum(map(len, accepted.values())) >= 500, what="the stream to flow")
        wait_for(lambda: sum(map(len, accepted.values())) >= 1500, what="1500 acknowledgements")
        with lock:
            rate = sum(map(len, accepted.values())) / (time.monotonic() - started)
        hub.signal(signal.SIGKILL)
        hub.process.wait(timeout=10)
        with lock:
            seen = {thing: list(versions) for thing, versions in accepted.items()}
        print(f"acknowledged {sum(map(len, seen.values()))} updates at {rate:.0f}/s before SIGKILL")
        for thing, versions in seen.items():
            # Answers to one device may overtake each other (they leave as their commits
            # complete, as AWS does not promise order either) and none is doubled. The kill may
            # cut answers still in flight, so the newest ones can be missing while a later one
            # arrived (seen once in CI: 25, 27); what was committed is checked below.
            assert len(set(versions)) == len(versions), (thing, versions)
            assert versions and min(versions) == 1, (thing, versions)
        hub.start()
        for thing, versions in seen.items():
            status, _, body = hub.request("GET", f"/things/{thing}/shadow")
            assert status == 200 and body["version"] >= max(versions), (thing, max(versions), body)
            after = hub.request("POST", f"/things/{thing}/shadow", {"state": {"reported": {"after": True}}})[2]
            assert after["version"] == body["version"] + 1
    finally:
        for _, client in clients:
            client.disconnect()
        for _, client in clients:
            client.loop_stop()
        hub.stop()


def test_broker_sigkilled_mid_load_hub_resyncs_nothing_acknowledged_is_lost_devices_get_missed_deltas(tmp_path):
    """100 devices with persistent sessions stream updates to the embedded broker; the broker is
    SIGKILLed mid-stream and desired changes are made through the control API while it is
    down. homehubd restarts it, reconnects and resends the outstanding deltas: every device gets
    its missed delta, every acknowledged version is in the store, and numbering goes on without
    a gap."""
    import threading
    import time

    import paho.mqtt.client as mqtt

    from conftest import Hub, free_port

    port = free_port()
    hub = Hub(tmp_path, f'[hub]\ndata_dir = "{tmp_path}/data"\nsocket = "{tmp_path}/hubctl.sock"\n'
                        f'[mqtt]\nmode = "embedded"\nport = {port}\nanonymous_role = "write"\n[plugins]\ndirs = []\n'
                        '[shadows]\nrequests_per_second_per_thing = 1000\n')
    acknowledged = {}
    deltas = {}
    lock = threading.Lock()
    clients = []
    subscribed = threading.Semaphore(0)
    try:
        for number in range(100):
            thing = f"dev{number}"
            client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=thing, clean_session=False)
            # Devices come back after the hub has reconnected: what reaches them then is what
            # the broker kept for their sessions.
            client.reconnect_delay_set(4, 8)

            def on_connect(client, userdata, flags, reason, properties, thing=thing):
                # What device code does on every (re)connect: (re)subscribe.
                client.subscribe([(f"$aws/things/{thing}/shadow/update/accepted", 1),
                                  (f"$aws/things/{thing}/shadow/update/delta", 1)])

            def on_message(client, userdata, message, thing=thing):
                body = json.loads(message.payload)
                with lock:
                    if message.topic.endswith("/delta"):
                        deltas.setdefault(thing, []).append(body)
                    elif "reported" in body.get("state", {}):
                        acknowledged.setdefault(thing, set()).add(body["version"])

            client.on_connect = on_connect
            client.on_message = on_message
            client.on_subscribe = lambda *arguments: subscribed.release()
            client.connect("127.0.0.1", port)
            client.loop_start()
            clients.append((thing, client))
        for _ in clients:
            assert subscribed.acquire(timeout=15), "a device's subscription was not acknowledged"
        sessions_known = time.time()
        database = tmp_path / "data" / "broker" / "mosquitto.db"

        def publish_round(round_number):
            for thing, client in clients:
                client.publish(f"$aws/things/{thing}/shadow/update",
                               json.dumps({"state": {"reported": {"n": round_number}}}), qos=1)

        for round_number in range(10):
            publish_round(round_number)
        wait_for(lambda: sum(map(len, acknowledged.values())) >= 500, what="the stream to flow")
        # The broker saves its sessions every few seconds; the devices' must be on disk.
        wait_for(lambda: database.exists() and database.stat().st_mtime > sessions_known, timeout=20,
                 what="mosquitto to save the device sessions")
        for round_number in range(10, 20):
            publish_round(round_number)
        broker_pid = int((tmp_path / "data" / "mosquitto.pid").read_text())
        os.kill(broker_pid, signal.SIGKILL)
        # Desired changes while the broker is down (or restarting): each answered only once durable.
        missed = {}
        for thing, _ in clients:
            status, _, body = hub.request("POST", f"/things/{thing}/shadow", {"state": {"desired": {"target": thing}}})
            assert status == 200, body
            missed[thing] = body["version"]
        for round_number in range(20, 30):
            publish_round(round_number)
        wait_for(lambda: "mosquitto" in hub.log_text() and "restarting" in hub.log_text(),
                 what="the hub to notice the broker died")
        wait_for(hub.ready, what="the hub to reconnect")

        def got_missed_delta(thing):
            # The delta of that very version: later reports from the device make deltas of their
            # own (the desired target is not reported), which do not count.
            with lock:
                return any(d["version"] == missed[thing] and d["state"].get("target") == thing
                           for d in deltas.get(thing, []))

        wait_for(lambda: all(got_missed_delta(thing) for thing, _ in clients), timeout=30,
                 what="every device to get the delta it missed "
                      f"({sum(got_missed_delta(t) for t, _ in clients)} of 100 so far)")
        assert "deltas.resent" in hub.log_text()
        for thing, client in clients:
            client.disconnect()
        for thing, client in clients:
            client.loop_stop()
        with lock:
            seen = {thing: set(versions) for thing, versions in acknowledged.items()}
        print(f"acknowledged {sum(map(len, seen.values()))} updates from 100 devices around the broker's SIGKILL")
        for thing, _ in clients:
            for _attempt in range(20):
                status, _, body = hub.request("GET", f"/things/{thing}/shadow")
                assert status == 200 and body["state"]["desired"] == {"target": thing}, body
                # Nothing acknowledged is missing: the stored version covers every acknowledged one.
                assert body["version"] >= max(seen.get(thing, {0})), (thing, body["version"], max(seen[thing]))
                # Numbering goes on from the stored version. A device update still on its way
                # through the broker may land in between: the version check (409) says so.
                status, _, after = hub.request("POST", f"/things/{thing}/shadow",
                                               {"state": {"reported": {"after": True}}, "version": body["version"]})
                if status != 409:
                    break
            assert status == 200 and after["version"] == body["version"] + 1, (status, after)
    finally:
        for _, client in clients:
            client.disconnect()
            client.loop_stop()
        hub.stop()


def test_a_delta_made_while_the_broker_was_down_reaches_the_device_even_if_the_hub_died_too(tmp_path, broker):
    """The broker dies; a desired change is made (durable, its delta unsent); then homehubd is
    SIGKILLed, losing whatever its MQTT client had queued. When both are back, the hub resends
    the outstanding delta from the store on connecting."""
    import queue

    import paho.mqtt.client as mqtt

    from conftest import Hub

    hub = Hub(tmp_path, external_config(tmp_path, broker))
    deltas = queue.Queue()
    subscriptions = queue.Queue()
    device = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="heater-device")
    device.reconnect_delay_set(1, 1)
    device.on_connect = lambda client, *rest: client.subscribe("$aws/things/heater/shadow/update/delta", qos=1)
    device.on_subscribe = lambda *arguments: subscriptions.put(True)
    device.on_message = lambda client, userdata, message: deltas.put(json.loads(message.payload))
    try:
        device.connect("127.0.0.1", broker.port)
        device.loop_start()
        subscriptions.get(timeout=10)
        assert hub.request("POST", "/things/heater/shadow", {"state": {"reported": {"t": 18}}})[0] == 200
        broker.kill()
        status, _, body = hub.request("POST", "/things/heater/shadow", {"state": {"desired": {"t": 21}}})
        assert status == 200, body
        hub.signal(signal.SIGKILL)
        hub.process.wait(timeout=10)
        broker.start()
        subscriptions.get(timeout=15)  # the device is back and subscribed; no hub yet
        assert deltas.empty(), "a delta arrived with no hub running"
        hub.start()
        delta = deltas.get(timeout=15)
        assert delta["state"] == {"t": 21} and delta["version"] == body["version"], delta
    finally:
        device.disconnect()
        device.loop_stop()
        hub.stop()

"""Applications on the network: AWS IoT's data-plane API over HTTPS, signed with SigV4, with
clients nobody here wrote — the AWS CLI (awscli from PyPI) running the source document's two
commands unchanged but for endpoint, CA bundle and profile, and boto3 for each operation — and
the identities and roles of the access model (docs/applications.md)."""
import datetime
import json
import os
import subprocess
from pathlib import Path

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest
import urllib3

from conftest import HUBCTL, ROOT, Hub, free_port, wait_for
from test_plugins import FAST, stage, things

AWS = ROOT / ".build/venv/bin/aws"


@pytest.fixture
def https_hub(tmp_path):
    plugins = tmp_path / "plugins"
    stage(plugins)
    port, https_port = free_port(), free_port()
    config = (f'[hub]\ndata_dir = "{tmp_path}/data"\nsocket = "{tmp_path}/hubctl.sock"\n'
              f'[mqtt]\nmode = "embedded"\nport = {port}\n'
              f'[http]\nlisten = ["127.0.0.1:{https_port}"]\n'
              f'[plugins]\ndirs = ["{plugins}"]\n{FAST}'
              + things(("frontdoor", "doorlock", {"moveSeconds": 0.3, "readBackSeconds": 0.05}),
                       ("livingroom", "heater", {"initialTemperature": 18.0})))
    hub = Hub(tmp_path, config)
    hub.endpoint = f"https://127.0.0.1:{https_port}"
    hub.mqtt_port, hub.passwords = port, {}
    hub.ca = tmp_path / "data/ca/ca.crt"
    wait_for(lambda: hub.request("GET", "/things/frontdoor/shadow?name=lock")[2].get("state", {})
             .get("reported", {}).get("lockState") == "locked", what="the lock read back")
    yield hub
    hub.stop()


def add_app(hub, name, role):
    result = subprocess.run([str(HUBCTL), "--socket", str(hub.socket), "--json", "apps", "add", name, "--role", role,
                             "--access-key"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert set(body["aws"]) == {"accessKeyId", "secretAccessKey"} and body["mqtt"]["username"] == name
    hub.passwords[name] = body["mqtt"]["password"]
    return body["aws"]


def client(hub, keys, region="eu-west-1"):
    return boto3.client("iot-data", endpoint_url=hub.endpoint, verify=str(hub.ca), region_name=region,
                        aws_access_key_id=keys["accessKeyId"], aws_secret_access_key=keys["secretAccessKey"])


def test_the_aws_cli_runs_the_source_documents_commands(https_hub, tmp_path):
    keys = add_app(https_hub, "phone", "write")
    # The secret lives in the database, which only the hub's user may read.
    assert (tmp_path / "data/hub.db").stat().st_mode & 0o777 == 0o600
    home = tmp_path / "aws-home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws/credentials").write_text(
        f"[hub]\naws_access_key_id = {keys['accessKeyId']}\naws_secret_access_key = {keys['secretAccessKey']}\n")
    environment = {**os.environ, "HOME": str(home), "AWS_DEFAULT_REGION": "eu-west-1"}
    # The CA bundle as a household member gets it: hubctl ca, not the hub's data directory.
    bundle = tmp_path / "homehub-ca.crt"
    assert subprocess.run([str(HUBCTL), "--socket", str(https_hub.socket), "ca", "--out", str(bundle)]).returncode == 0
    assert bundle.read_text() == https_hub.ca.read_text()
    common = ["--profile", "hub", "--endpoint-url", https_hub.endpoint, "--ca-bundle", str(bundle)]
    update = subprocess.run([str(AWS), "iot-data", "update-thing-shadow", *common, "--thing-name", "livingroom",
                             "--shadow-name", "climate", "--payload",
                             '{"state":{"desired":{"targetTemperature":22.5}}}', str(tmp_path / "update.json")],
                            capture_output=True, text=True, env=environment, timeout=60)
    assert update.returncode == 0, update.stderr
    assert json.loads((tmp_path / "update.json").read_text())["state"]["desired"]["targetTemperature"] == 22.5
    get = subprocess.run([str(AWS), "iot-data", "get-thing-shadow", *common, "--thing-name", "livingroom",
                          "--shadow-name", "climate", str(tmp_path / "out.json")],
                         capture_output=True, text=True, env=environment, timeout=60)
    assert get.returncode == 0, get.stderr
    document = json.loads((tmp_path / "out.json").read_text())
    assert document["state"]["desired"]["targetTemperature"] == 22.5 and document["version"] >= 2
    # The sensitive shadow is refused with the AWS error class a client expects.
    refused = subprocess.run([str(AWS), "iot-data", "update-thing-shadow", *common, "--thing-name", "frontdoor",
                              "--shadow-name", "lock", "--payload", '{"state":{"desired":{"lock":"unlocked"}}}',
                              str(tmp_path / "lock.json")], capture_output=True, text=True, env=environment, timeout=60)
    assert refused.returncode != 0 and "(ForbiddenException)" in refused.stderr, refused.stderr


def test_boto3_every_operation_served_and_the_roles_hold(https_hub):
    writer = client(https_hub, add_app(https_hub, "kitchen", "write"))
    reader = client(https_hub, add_app(https_hub, "viewer", "read"), region="us-east-1")
    opener = client(https_hub, add_app(https_hub, "door-panel", "sensitive"))

    update = writer.update_thing_shadow(thingName="lamp", payload=json.dumps({"state": {"reported": {"on": True}}}))
    assert json.loads(update["payload"].read())["version"] == 1
    named = writer.update_thing_shadow(thingName="lamp", shadowName="battery",
                                       payload=json.dumps({"state": {"reported": {"level": 80}}}))
    assert json.loads(named["payload"].read())["version"] == 1
    assert json.loads(reader.get_thing_shadow(thingName="lamp")["payload"].read())["state"]["reported"] == {"on": True}
    listed = reader.list_named_shadows_for_thing(thingName="lamp", pageSize=10)
    assert listed["results"] == ["battery"] and isinstance(listed["timestamp"], int)
    # Publish: a shadow request topic is a shadow request; another topic goes out on the broker.
    writer.publish(topic="$aws/things/lamp/shadow/update", qos=1,
                   payload=json.dumps({"state": {"reported": {"on": False}}}))
    wait_for(lambda: json.loads(reader.get_thing_shadow(thingName="lamp")["payload"].read())["version"] == 2,
             what="the published update")
    writer.publish(topic="home/kitchen/note", qos=1, retain=True, payload=b"hello")
    # Retained messages, whoever published them: through the API above, and a device on MQTT.
    subprocess.run(["mosquitto_pub", "-V", "mqttv5", "-p", str(https_hub.mqtt_port), "-u", "kitchen", "-P",
                    https_hub.passwords["kitchen"], "-r", "-q", "1", "-t", "home/hall/light", "-m", "on",
                    "-D", "publish", "user-property", "room", "hall"], check=True)
    wait_for(lambda: len(reader.list_retained_messages()["retainedTopics"]) == 2, what="two retained messages")
    light = reader.get_retained_message(topic="home/hall/light")
    assert (light["topic"], light["payload"], light["qos"]) == ("home/hall/light", b"on", 1)
    assert json.loads(light["userProperties"]) == [{"room": "hall"}] and light["lastModifiedTime"] > 1.7e12
    pages = reader.get_paginator("list_retained_messages").paginate(PaginationConfig={"PageSize": 1})
    assert [item["topic"] for page in pages for item in page["retainedTopics"]] == [
        "home/hall/light", "home/kitchen/note"]
    with pytest.raises(reader.exceptions.ResourceNotFoundException):
        reader.get_retained_message(topic="home/nothing")
    deleted = writer.delete_thing_shadow(thingName="lamp", shadowName="battery")
    assert json.loads(deleted["payload"].read())["version"] == 1
    with pytest.raises(reader.exceptions.ResourceNotFoundException):
        reader.get_thing_shadow(thingName="lamp", shadowName="battery")

    # Roles, exactly as on every other path.
    with pytest.raises(botocore.exceptions.ClientError) as read_only:
        reader.update_thing_shadow(thingName="lamp", payload=json.dumps({"state": {"desired": {"on": True}}}))
    assert read_only.value.response["Error"]["Code"] == "ForbiddenException"
    unlock = json.dumps({"state": {"desired": {"lock": "unlocked"}}})
    for attempt in (lambda: writer.update_thing_shadow(thingName="frontdoor", shadowName="lock", payload=unlock),
                    lambda: writer.publish(topic="$aws/things/frontdoor/shadow/name/lock/update", payload=unlock),
                    lambda: writer.publish(topic="$aws/things/frontdoor/shadow/name/lock/update/delta",
                                           payload=json.dumps({"state": {"lock": "unlocked"}}))):
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            attempt()
        assert refused.value.response["Error"]["Code"] == "ForbiddenException"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    state = json.loads(reader.get_thing_shadow(thingName="frontdoor", shadowName="lock")["payload"].read())
    assert "desired" not in state["state"]
    opener.update_thing_shadow(thingName="frontdoor", shadowName="lock", payload=unlock)
    wait_for(lambda: json.loads(reader.get_thing_shadow(thingName="frontdoor", shadowName="lock")["payload"].read())
             ["state"]["reported"]["lockState"] == "unlocked", what="the door to unlock")
    rows = https_hub.request("GET", "/v1/audit?thing=frontdoor&limit=50")[2]["entries"]
    https_rows = [(r["identity"], r["result"]) for r in rows if r["path"] == "https"]
    assert ("application:kitchen", 403) in https_rows and ("application:door-panel", 200) in https_rows


class Answer:
    """An HTTPS answer read by urllib3 (botocore's own transport)."""

    def __init__(self, response):
        self.status_code = response.status
        self.headers = response.headers
        self.text = response.data.decode()

    def json(self):
        return json.loads(self.text)


def get(hub, url, headers=None):
    pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=str(hub.ca))
    return Answer(pool.request("GET", url, headers=headers or {}, timeout=10))


def signed(hub, keys, when=None, secret=None, service="iotdata"):
    """A GetThingShadow request signed by botocore's own signer, at `when`, with `secret`."""
    credentials = botocore.credentials.Credentials(keys["accessKeyId"], secret or keys["secretAccessKey"])
    request = botocore.awsrequest.AWSRequest(method="GET", url=f"{hub.endpoint}/things/livingroom/shadow?name=climate")
    signer = botocore.auth.SigV4Auth(credentials, service, "eu-west-1")
    if when is not None:
        signer._timestamp = lambda: when  # botocore reads the signing time from here
        original = datetime.datetime

        class Fixed(original):
            @classmethod
            def utcnow(cls):
                return when

            @classmethod
            def now(cls, tz=None):
                return when if tz is None else when.replace(tzinfo=tz)
        botocore.auth.datetime.datetime = Fixed
        try:
            signer.add_auth(request)
        finally:
            botocore.auth.datetime.datetime = original
    else:
        signer.add_auth(request)
    return get(hub, request.url, dict(request.headers))


def test_each_authentication_failure_has_the_status_error_type_and_an_audit_row(https_hub):
    keys = add_app(https_hub, "script", "read")
    ok = signed(https_hub, keys)
    assert ok.status_code == 200, ok.text
    assert signed(https_hub, keys, service="iotdevicegateway").status_code == 200
    cases = {
        "missing": get(https_hub, f"{https_hub.endpoint}/things/livingroom/shadow"),
        "wrong secret": signed(https_hub, keys, secret="not-the-secret"),
        "unknown key": signed(https_hub, {"accessKeyId": "HHAKUNKNOWN000000000", "secretAccessKey": "x"}),
        "expired": signed(https_hub, keys, when=datetime.datetime.utcnow() - datetime.timedelta(minutes=20)),
        "malformed": get(https_hub, f"{https_hub.endpoint}/things/livingroom/shadow",
                         {"Authorization": "AWS4-HMAC-SHA256 Credential=oops"}),
    }
    for name, response in cases.items():
        assert response.status_code == 401, (name, response.status_code, response.text)
        assert response.headers["x-amzn-ErrorType"] == "UnauthorizedException", name
        assert response.json()["message"], name
    assert "Signature expired" in cases["expired"].json()["message"]
    assert "does not match" in cases["wrong secret"].json()["message"]
    # Revoked: removed, the key stops working at once.
    assert subprocess.run([str(HUBCTL), "--socket", str(https_hub.socket), "apps", "remove", "script"]).returncode == 0
    assert signed(https_hub, keys).status_code == 401
    rows = https_hub.request("GET", "/v1/audit?limit=50")[2]["entries"]
    refused = [r for r in rows if r["path"] == "https" and r["result"] == 401]
    assert len(refused) >= 6 and any(r["identity"] == "application:script" for r in refused)


def test_publish_carries_its_mqtt5_parameters_to_subscribers(https_hub):
    """Publish's MQTT 5 parameters (headers and query, as botocore sends them) reach an MQTT 5
    subscriber: user properties, payload format, content type, response topic, correlation data,
    message expiry."""
    import base64
    import queue

    import paho.mqtt.client as mqtt

    writer = client(https_hub, add_app(https_hub, "panel", "write"))
    received, subscribed = queue.Queue(), queue.Queue()
    subscriber = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    subscriber.username_pw_set("panel", https_hub.passwords["panel"])
    subscriber.on_message = lambda c, u, message: received.put(message)
    subscriber.on_subscribe = lambda *arguments: subscribed.put(True)
    subscriber.on_connect = lambda c, u, f, r, p: c.subscribe("home/door/#", qos=1)
    subscriber.connect("127.0.0.1", https_hub.mqtt_port)
    subscriber.loop_start()
    try:
        assert subscribed.get(timeout=10)
        writer.publish(topic="home/door/event", qos=1, payload=b"opened",
                       userProperties=json.dumps([{"source": "phone"}, {"n": "2"}]),
                       payloadFormatIndicator="UTF8_DATA", contentType="text/plain", responseTopic="home/door/ack",
                       correlationData=base64.b64encode(b"abc").decode(), messageExpiry=60)
        message = received.get(timeout=10)
    finally:
        subscriber.loop_stop()
        subscriber.disconnect()
    properties = message.properties
    assert message.payload == b"opened"
    assert ("source", "phone") in properties.UserProperty and ("n", "2") in properties.UserProperty
    assert properties.PayloadFormatIndicator == 1 and properties.ContentType == "text/plain"
    assert properties.ResponseTopic == "home/door/ack" and properties.CorrelationData == b"abc"
    assert 0 < properties.MessageExpiryInterval <= 60

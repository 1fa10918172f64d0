"""Shadow requests over MQTT with paho-mqtt and mosquitto_pub, and the REST paths with curl."""
import json
import subprocess

from conftest import Device


def test_update_get_delete_with_mosquitto_clients(hub, broker):
    device = Device(broker.port, "lamp")
    try:
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-q", "1", "-t", "$aws/things/lamp/shadow/update",
                        "-m", '{"state":{"desired":{"on":true}},"clientToken":"mp"}'], check=True)
        accepted = device.expect("update/accepted")
        assert accepted["version"] == 1 and accepted["clientToken"] == "mp"
        assert device.expect("update/delta")["state"] == {"on": True}
        subprocess.run(["mosquitto_pub", "-p", str(broker.port), "-q", "1", "-t", "$aws/things/lamp/shadow/delete",
                        "-n"], check=True)
        assert device.expect("delete/accepted")["version"] == 1
    finally:
        device.close()


def test_rest_update_publishes_on_mqtt_and_curl_reads_it(hub, broker):
    device = Device(broker.port, "heater")
    try:
        status, headers, body = hub.request("POST", "/things/heater/shadow?name=climate",
                                            {"state": {"desired": {"target": 21}}, "clientToken": "rest"})
        assert status == 200 and body["version"] == 1 and body["clientToken"] == "rest"
        assert device.expect("update/accepted")["clientToken"] == "rest"
        assert device.expect("update/delta")["state"] == {"target": 21}
        assert device.expect("update/documents")["current"]["version"] == 1
        out = subprocess.run(["curl", "-s", "--unix-socket", str(hub.socket),
                              "http://localhost/things/heater/shadow?name=climate"],
                             check=True, capture_output=True, text=True).stdout
        assert json.loads(out)["state"]["delta"] == {"target": 21}
    finally:
        device.close()


def test_rest_errors_have_status_error_type_and_body(hub):
    status, headers, body = hub.request("GET", "/things/ghost/shadow?name=none")
    assert status == 404
    assert headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    assert body == {"code": 404, "message": "No shadow exists with name: 'ghost~none'"}
    hub.request("POST", "/things/t/shadow", {"state": {"desired": {"a": 1}}})
    status, headers, body = hub.request("POST", "/things/t/shadow", {"state": {"desired": {"a": 2}}, "version": 9})
    assert (status, headers["x-amzn-ErrorType"], body["message"]) == (409, "ConflictException", "Version conflict")
    status, headers, body = hub.request("POST", "/things/bad%20name/shadow", {"state": {}})
    assert status == 400 and headers["x-amzn-ErrorType"] == "InvalidRequestException"
    status, _, body = hub.request("PUT", "/things/t/shadow", b"{}")
    assert status == 405
    status, _, body = hub.request("DELETE", "/things/t/shadow")
    assert status == 200 and body["version"] == 1 and set(body) == {"version", "timestamp"}


def test_list_named_shadows_pages(hub):
    for name in ["a", "b", "c"]:
        assert hub.request("POST", f"/things/multi/shadow?name={name}", {"state": {"reported": {"x": 1}}})[0] == 200
    hub.request("POST", "/things/multi/shadow", {"state": {"reported": {"classic": True}}})
    status, _, page = hub.request("GET", "/api/things/shadow/ListNamedShadowsForThing/multi?pageSize=2")
    assert status == 200 and page["results"] == ["a", "b"] and "nextToken" in page
    status, _, rest = hub.request(
        "GET", f"/api/things/shadow/ListNamedShadowsForThing/multi?pageSize=2&nextToken={page['nextToken']}")
    assert rest["results"] == ["c"] and "nextToken" not in rest
    assert hub.request("GET", "/api/things/shadow/ListNamedShadowsForThing/nobody")[2]["results"] == []
    assert hub.request("GET", "/api/things/shadow/ListNamedShadowsForThing/multi?pageSize=0")[0] == 400


def test_bad_input_is_rejected_stores_nothing_and_the_hub_keeps_serving(hub, broker):
    device = Device(broker.port, "victim")
    try:
        prefix = "$aws/things/victim/shadow"
        cases = [
            (b'{"state": {"desired": ', 400, "Invalid JSON"),
            (b'{"state":{"desired":{"a":"\xff\xfe"}}}', 415, "Unsupported documented encoding; supported encoding is UTF-8"),
            (json.dumps({"state": {"desired": {"a": "x" * 9000}}}).encode(), 413,
             "The payload exceeds the maximum size allowed"),
            (json.dumps({"state": {"desired": {"1": {"2": {"3": {"4": {"5": {"6": {}}}}}}}}}).encode(), 400,
             "JSON contains too many levels of nesting; maximum is 6"),
            (b"[" * 50000 + b"]" * 50000, 400, "JSON contains too many levels of nesting; maximum is 6"),
            (b"x" * (1 << 20), 413, "The payload exceeds the maximum size allowed"),
        ]
        for payload, code, message in cases:
            device.publish(f"{prefix}/update", payload)
            rejected = device.expect("update/rejected")
            assert (rejected["code"], rejected["message"]) == (code, message)
        assert hub.request("GET", "/things/victim/shadow")[0] == 404
        # Names that break AWS's rules, in the topic itself.
        bad = Device(broker.port, "bad$thing")
        try:
            bad.publish("$aws/things/bad$thing/shadow/update", b'{"state":{"desired":{"a":1}}}')
            assert bad.expect("update/rejected")["code"] == 400
        finally:
            bad.close()
        device.publish(f"{prefix}/update", b'{"state":{"desired":{"ok":1}}}')
        assert device.expect("update/accepted")["version"] == 1
    finally:
        device.close()


def test_requests_over_the_per_thing_rate_get_429(hub, broker):
    device = Device(broker.port, "chatty")
    try:
        for sequence in range(40):
            device.client.publish("$aws/things/chatty/shadow/get", json.dumps({"clientToken": str(sequence)}), qos=1)
        answers = [device.expect("get/rejected") for _ in range(40)]
        codes = {answer["code"] for answer in answers}
        assert 429 in codes and 404 in codes
        assert any(a["message"] == "TOO_MANY_REQUESTS" for a in answers if a["code"] == 429)
        # Every rejection, the rate limit's included, carries its request's clientToken: a client
        # that correlates by token (the AWS IoT Device SDK does) learns each request's fate.
        assert sorted(int(answer["clientToken"]) for answer in answers) == list(range(40))
    finally:
        device.close()


def test_a_get_whose_payload_is_only_whitespace_is_invalid_json(hub, broker):
    device = Device(broker.port, "spaces")
    try:
        device.publish("$aws/things/spaces/shadow/update", {"state": {"reported": {"on": True}}})
        device.expect("update/accepted")
        device.publish("$aws/things/spaces/shadow/get", b"  \n")
        answer = device.expect("get/rejected")
        assert (answer["code"], answer["message"]) == (400, "Invalid JSON")
        device.publish("$aws/things/spaces/shadow/get", b"")
        assert device.expect("get/accepted")["state"]["reported"] == {"on": True}
    finally:
        device.close()

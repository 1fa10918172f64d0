"""The spec's vectors, run against the built homehubd over real MQTT and the REST socket.

Vectors with a `preload` step need a test hook the daemon does not expose; the engine-level
harness (Tests/HubCoreTests/ShadowVectorTests.swift) runs those.
"""
import json
import time
from pathlib import Path

import pytest

from conftest import Device, ROOT

SHARED = ROOT.parent / "shared/spec/shadow-vectors.json"
FIXTURE = ROOT / "Tests/HubCoreTests/Fixtures/shadow-vectors.json"
VECTORS = json.loads((SHARED if SHARED.exists() else FIXTURE).read_text())
RUNNABLE = [v for v in VECTORS if v.get("kind") != "conventions" and not v.get("preload")
            and v.get("strictness") in ("required", "recommended")]


class Matcher:
    def __init__(self, start):
        self.start = start
        self.captures = {}

    def check(self, expected, actual, exact, path="$"):
        if isinstance(expected, str) and expected.startswith("$"):
            return self.token(expected, actual, path)
        assert actual is not Ellipsis, f"{path}: missing, expected {expected!r}"
        if isinstance(expected, dict):
            if "$one_of" in expected:
                assert any(self.quiet(option, actual, exact) for option in expected["$one_of"]), \
                    f"{path}: {actual!r} is none of {expected['$one_of']!r}"
                return
            if "$prefix" in expected:
                assert isinstance(actual, str) and actual.startswith(expected["$prefix"]), f"{path}: {actual!r}"
                return
            assert isinstance(actual, dict), f"{path}: {actual!r} is not an object"
            for key, value in expected.items():
                self.check(value, actual.get(key, Ellipsis), exact, f"{path}.{key}")
            if exact:
                extra = set(actual) - set(expected)
                assert not extra, f"{path}: unexpected keys {extra} in {actual!r}"
            return
        if isinstance(expected, list):
            assert isinstance(actual, list) and len(actual) == len(expected), f"{path}: {actual!r} vs {expected!r}"
            for index, (e, a) in enumerate(zip(expected, actual)):
                self.check(e, a, exact, f"{path}[{index}]")
            return
        assert expected == actual, f"{path}: expected {expected!r}, got {actual!r}"

    def quiet(self, expected, actual, exact):
        try:
            self.check(expected, actual, exact)
            return True
        except AssertionError:
            return False

    def token(self, token, actual, path):
        if token == "$ABSENT":
            assert actual is Ellipsis, f"{path}: expected absent, got {actual!r}"
            return
        assert actual is not Ellipsis, f"{path}: missing, expected {token}"
        if token == "$ANY":
            return
        if token == "$TS":
            assert isinstance(actual, int) and self.start - 2 <= actual <= time.time() + 2, f"{path}: {actual!r}"
            return
        if token.startswith("$CAPTURE:"):
            assert isinstance(actual, int), f"{path}: {actual!r} is not an integer"
            self.captures[token[9:]] = actual
            return
        if token.startswith("$EQ:"):
            assert self.captures.get(token[4:]) == actual, f"{path}: {actual!r} != {token[4:]}"
            return
        assert actual == token, f"{path}: {actual!r}"


@pytest.mark.parametrize("vector", RUNNABLE, ids=[v["id"] for v in RUNNABLE])
def test_vector_against_the_daemon(vector, hub, broker):
    thing = vector["shadow"]["thingName"]
    shadow = vector["shadow"]["shadowName"]
    prefix = f"$aws/things/{thing}/shadow" + (f"/name/{shadow}" if shadow else "")
    device = Device(broker.port, thing)
    matcher = Matcher(int(time.time()))
    try:
        for step in vector["steps"]:
            status = None
            if step["action"] == "mqtt_publish":
                payload = step.get("payload_raw", step.get("payload"))
                if not isinstance(payload, str):
                    payload = json.dumps(payload)
                device.publish(f"{prefix}/{step['topic']}", payload.encode())
            else:
                request = step["http"]
                query = "&".join(f"{k}={v}" for k, v in (request.get("query") or {}).items())
                status, _, body = hub.request(request["method"], request["path"] + (f"?{query}" if query else ""),
                                              request.get("body"))
                expected = step["expect_http"]
                assert status == expected["status"], f"step {step['n']}: HTTP {status} {body}"
                matcher.check(expected["body"], body, expected.get("match") == "exact")
            consumed = set()
            for expectation in step.get("expect", []):
                message = device.expect(expectation["topic"])
                consumed.add(expectation["topic"])
                matcher.check(expectation["payload"], message, expectation.get("match") == "exact")
            # Wait for the message the hub sends last for this request, so that nothing of this
            # step is left to be mistaken for the next step's. The hub publishes accepted, delta
            # and documents in that order on one connection: once documents is in, a delta that
            # should not exist would be too.
            operation = step.get("topic") or {"POST": "update"}.get(step["http"]["method"])
            if operation == "update" and status in (None, 200):
                final = ["update/documents", "update/rejected"]
            elif operation in ("get", "delete") and step["action"] == "mqtt_publish":
                final = [f"{operation}/accepted", f"{operation}/rejected"]
            else:
                final = []
            if final and not consumed & set(final):
                device.expect_any(final)
            leftovers = [topic for topic, _ in device.drain()]
            for suffix in step.get("expect_no_message", []):
                assert not any(topic.endswith("/" + suffix) for topic in leftovers), \
                    f"step {step['n']}: unexpected message on {suffix}"
    finally:
        device.close()

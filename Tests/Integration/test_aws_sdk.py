"""A device on the AWS IoT Device SDK for Python v2, pointed at homehub: only the endpoint and
the credentials differ from what it would use against AWS."""
import queue

import pytest
from awscrt import mqtt as crt_mqtt
from awsiot import iotshadow, mqtt_connection_builder


@pytest.fixture
def sdk_connection(broker, certs):
    connection = mqtt_connection_builder.mtls_from_path(
        endpoint="localhost", port=broker.tls_port,
        cert_filepath=str(certs / "device.crt"), pri_key_filepath=str(certs / "device.key"),
        ca_filepath=str(certs / "ca.crt"), client_id="sdk-thing", clean_session=True, keep_alive_secs=30)
    connection.connect().result(timeout=15)
    yield connection
    connection.disconnect().result(timeout=15)


def subscribe(future_and_id):
    future, _ = future_and_id
    future.result(timeout=10)


def test_sdk_device_get_on_connect_delta_and_reported_updates(hub, sdk_connection):
    thing = "sdk-thing"
    shadow = iotshadow.IotShadowClient(sdk_connection)
    events = queue.Queue()
    qos = crt_mqtt.QoS.AT_LEAST_ONCE
    subscribe(shadow.subscribe_to_get_shadow_accepted(
        iotshadow.GetShadowSubscriptionRequest(thing_name=thing), qos, lambda r: events.put(("get", r))))
    subscribe(shadow.subscribe_to_get_shadow_rejected(
        iotshadow.GetShadowSubscriptionRequest(thing_name=thing), qos, lambda e: events.put(("get-rejected", e))))
    subscribe(shadow.subscribe_to_update_shadow_accepted(
        iotshadow.UpdateShadowSubscriptionRequest(thing_name=thing), qos, lambda r: events.put(("updated", r))))
    subscribe(shadow.subscribe_to_shadow_delta_updated_events(
        iotshadow.ShadowDeltaUpdatedSubscriptionRequest(thing_name=thing), qos, lambda d: events.put(("delta", d))))

    def next_event(kind):
        while True:
            name, value = events.get(timeout=10)
            if name == kind:
                return value

    # Get on connect: no shadow yet.
    shadow.publish_get_shadow(iotshadow.GetShadowRequest(thing_name=thing, client_token="g0"), qos).result(10)
    rejected = next_event("get-rejected")
    assert rejected.code == 404 and rejected.client_token == "g0"

    # The device reports its state.
    shadow.publish_update_shadow(iotshadow.UpdateShadowRequest(
        thing_name=thing, state=iotshadow.ShadowState(reported={"color": "off"}), client_token="u1"), qos).result(10)
    assert next_event("updated").version == 1

    # An app sets desired over REST; the device gets the delta and reports back.
    status, _, _ = hub.request("POST", f"/things/{thing}/shadow", {"state": {"desired": {"color": "green"}}})
    assert status == 200
    delta = next_event("delta")
    assert delta.state == {"color": "green"} and delta.version == 2
    shadow.publish_update_shadow(iotshadow.UpdateShadowRequest(
        thing_name=thing, state=iotshadow.ShadowState(reported=delta.state), client_token="u3"), qos).result(10)
    assert next_event("updated").version == 3
    shadow.publish_get_shadow(iotshadow.GetShadowRequest(thing_name=thing, client_token="g4"), qos).result(10)
    got = next_event("get")
    assert got.state.delta is None and got.state.reported == {"color": "green"} and got.version == 3


def test_sdk_named_shadow(hub, sdk_connection):
    thing, name = "sdk-thing", "config"
    shadow = iotshadow.IotShadowClient(sdk_connection)
    events = queue.Queue()
    qos = crt_mqtt.QoS.AT_LEAST_ONCE
    subscribe(shadow.subscribe_to_update_named_shadow_accepted(
        iotshadow.UpdateNamedShadowSubscriptionRequest(thing_name=thing, shadow_name=name), qos, events.put))
    subscribe(shadow.subscribe_to_get_named_shadow_accepted(
        iotshadow.GetNamedShadowSubscriptionRequest(thing_name=thing, shadow_name=name), qos, events.put))
    shadow.publish_update_named_shadow(iotshadow.UpdateNamedShadowRequest(
        thing_name=thing, shadow_name=name, state=iotshadow.ShadowState(desired={"interval": 30}),
        client_token="n1"), qos).result(10)
    accepted = events.get(timeout=10)
    assert accepted.version == 1 and accepted.client_token == "n1"
    shadow.publish_get_named_shadow(iotshadow.GetNamedShadowRequest(
        thing_name=thing, shadow_name=name, client_token="n2"), qos).result(10)
    got = events.get(timeout=10)
    assert got.state.desired == {"interval": 30} and got.state.delta == {"interval": 30}
    status, _, body = hub.request("GET", "/api/things/shadow/ListNamedShadowsForThing/sdk-thing")
    assert body["results"] == ["config"]

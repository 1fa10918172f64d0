"""Schedules end to end: a heater program added with one hubctl command, its firings across the
DST nights of Berlin and New York, catch-up after the hub was down through a transition (the
hub's clock shifted with HOMEHUB_CLOCK_OFFSET_SECONDS, not slept through), holds and resume, and
the API's refusals."""
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from conftest import HUBCTL, Hub, hubctl, wait_for
from test_plugins import plugin_hub, things

WEEK = ("weekdays 06:30 targetTemperature=21; weekdays 08:00 targetTemperature=17; "
        "weekdays 17:30 targetTemperature=21; weekdays 22:30 targetTemperature=16; "
        "weekends 08:00 targetTemperature=21; weekends 23:00 targetTemperature=16; daily 02:30 mode=eco")


def heater_things():
    return things(
        ("livingroom", "heater", {"initialTemperature": 18.0, "degreesPerMinute": 600.0, "tickSeconds": 0.05}),
        ("frontdoor", "doorlock", {"moveSeconds": 0.2, "readBackSeconds": 0.05}))


@pytest.fixture
def hub(tmp_path, broker):
    instance = plugin_hub(tmp_path, broker, heater_things())
    yield instance
    instance.stop()


def ok(result):
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def next_firings(hub, schedule, start, count):
    body = json.loads(ok(hubctl(hub, "schedule", "next", schedule, "--from", start, "--count", str(count), "--json")))
    return body["firings"]


def test_a_heater_week_in_one_command_and_the_dst_nights_of_berlin_and_new_york(hub):
    ok(hubctl(hub, "schedule", "add", "livingroom", "--zone", "Europe/Berlin", "--program", WEEK))
    ok(hubctl(hub, "schedule", "add", "livingroom", "--id", "ny", "--zone", "America/New_York", "--program", WEEK))

    # Berlin, 28 March 2027: 02:00 → 03:00. The 02:30 entry fires once, at 03:00 CEST.
    march = next_firings(hub, "livingroom", "2027-03-27T12:00", 4)
    eco = [f for f in march if f.get("set") == {"mode": "eco"}]
    assert [f["utc"] for f in eco] == ["2027-03-28T01:00:00Z"]
    assert eco[0]["at"] == "2027-03-28T03:00:00+02:00" and eco[0]["adjustment"] == "skipped-to-next-valid"
    assert [f["utc"] for f in march] == ["2027-03-27T22:00:00Z", "2027-03-28T01:00:00Z", "2027-03-28T06:00:00Z",
                                         "2027-03-28T21:00:00Z"]
    # Berlin, 31 October 2027: 03:00 → 02:00. 02:30 fires once, at its first occurrence (CEST).
    october = next_firings(hub, "livingroom", "2027-10-31T00:00", 3)
    assert [(f["utc"], f.get("adjustment")) for f in october] == [
        ("2027-10-31T00:30:00Z", "first-of-repeated"), ("2027-10-31T07:00:00Z", None), ("2027-10-31T22:00:00Z", None)]

    # New York, 14 March 2027 (02:00 → 03:00) and 7 November 2027 (02:00 → 01:00).
    spring = next_firings(hub, "ny", "2027-03-14T00:00", 2)
    assert [(f["utc"], f.get("adjustment")) for f in spring] == [
        ("2027-03-14T07:00:00Z", "skipped-to-next-valid"), ("2027-03-14T12:00:00Z", None)]
    autumn = next_firings(hub, "ny", "2027-11-07T00:00", 2)
    # 02:30 exists once that night (the repeated hour is 01:00–02:00): an ordinary firing in EST.
    assert [f["at"] for f in autumn] == ["2027-11-07T02:30:00-05:00", "2027-11-07T08:00:00-05:00"]

    # The table a person reads marks the DST night.
    table = ok(hubctl(hub, "schedule", "next", "livingroom", "--from", "2027-03-28", "--count", "2"))
    assert "Sun 2027-03-28 03:00 +02:00" in table and "does not exist" in table
    listing = ok(hubctl(hub, "schedule", "list"))
    assert "livingroom" in listing and "program (7 entries)" in listing


def utc_clock(offset_seconds):
    moment = time.gmtime(time.time() + offset_seconds)
    return f"{moment.tm_hour:02d}:{moment.tm_min:02d}"


def climate(hub):
    status, _, body = hub.request("GET", "/things/livingroom/shadow?name=climate")
    assert status == 200, body
    return body


def test_a_transition_passed_while_the_hub_was_down_is_applied_at_start(tmp_path, broker):
    config_hub = plugin_hub(tmp_path, broker, heater_things())
    try:
        # In force now: 19 (an hour ago). Next: 23 in two hours.
        program = f"daily {utc_clock(-3600)} targetTemperature=19; daily {utc_clock(7200)} targetTemperature=23"
        ok(hubctl(config_hub, "schedule", "add", "livingroom", "--zone", "UTC", "--program", program))
        wait_for(lambda: climate(config_hub)["state"]["desired"].get("targetTemperature") == 19,
                 what="the program's state applied when added")
        # A cron schedule that locks the door, caught up too (latest).
        ok(hubctl(config_hub, "schedule", "add", "frontdoor", "--id", "lock", "--zone", "UTC", "--cron",
                  f"{utc_clock(5400)[3:]} {utc_clock(5400)[:2]} * * *", "--command", "lock", "--catch-up", "latest"))
    finally:
        config_hub.stop()

    # Three hours later (the hub's clock shifted; no waiting), the hub starts again.
    later = Hub(tmp_path, config_hub.config.read_text(), env={"HOMEHUB_CLOCK_OFFSET_SECONDS": "10800"})
    try:
        wait_for(lambda: climate(later)["state"]["desired"].get("targetTemperature") == 23,
                 what="the missed transition caught up")
        assert climate(later)["metadata"]["desired"]["targetTemperature"]["timestamp"] >= time.time() + 10700
        shown = json.loads(ok(hubctl(later, "schedule", "show", "livingroom", "--json")))
        caught = [r for r in shown["runs"] if r["kind"] == "caught-up"]
        assert len(caught) == 1 and caught[0]["missed"] == 1 and caught[0]["applied"] == {"targetTemperature": 23}
        # The command went through the ledger, requested by the schedule.
        lock = json.loads(ok(hubctl(later, "schedule", "show", "lock", "--json")))
        command_id = next(r["command"] for r in lock["runs"] if r["kind"] == "caught-up")
        _, _, command = later.request("GET", f"/v1/commands/{command_id}")
        assert command["requester"] == {"schedule": "lock"} and command["command"] == "lock"
        # Once: a second start at the same shifted time applies nothing more.
        later.stop()
        later.start()
        again = json.loads(ok(hubctl(later, "schedule", "show", "livingroom", "--json")))
        assert len([r for r in again["runs"] if r["kind"] == "caught-up"]) == 1
    finally:
        later.stop()


def test_a_manual_change_holds_the_program_until_resume(hub):
    ok(hubctl(hub, "schedule", "add", "livingroom", "--zone", "UTC", "--hold", "indefinite", "--program",
              f"daily {utc_clock(-60)} targetTemperature=20 mode=heat"))
    wait_for(lambda: climate(hub)["state"]["desired"].get("targetTemperature") == 20, what="program applied")
    ok(hubctl(hub, "set", "livingroom", "targetTemperature=24"))
    held = wait_for(lambda: (lambda s: s if s.get("held") else None)(
        json.loads(ok(hubctl(hub, "schedule", "show", "livingroom", "--json")))), what="the hold")
    assert held["held"]["attributes"] == ["targetTemperature"] and held["held"]["until"] is None
    assert held["state"] == "held"
    ok(hubctl(hub, "schedule", "resume", "livingroom"))
    wait_for(lambda: climate(hub)["state"]["desired"].get("targetTemperature") == 20, what="the program back")
    assert "held" not in json.loads(ok(hubctl(hub, "schedule", "show", "livingroom", "--json")))


def test_the_api_refuses_what_it_cannot_run_and_says_why(hub):
    def post(body):
        return hub.request("POST", "/v1/schedules", body)

    status, _, body = post({"thing": "livingroom", "cron": "0 7 * * *", "desired": {"targetTemperature": 99}})
    assert status == 400 and "must be between 5 and 30" in body["message"]
    status, _, body = post({"thing": "livingroom", "program": "daily 07:00 t=1", "timeZone": "Mars/Olympus"})
    assert status == 400 and "Mars/Olympus" in body["message"]
    status, _, body = post({"thing": "frontdoor", "cron": "0 7 * * *", "command": "explode"})
    assert status == 400 and "no command 'explode'" in body["message"]
    status, _, body = post({"thing": "livingroom", "cron": "0 7 * * *"})
    assert status == 400 and "needs 'desired'" in body["message"]
    status, _, created = post({"id": "morning", "thing": "livingroom", "cron": "0 7 * * *",
                               "desired": {"targetTemperature": 21}})
    assert status == 201 and created["id"] == "morning" and created["shadow"] == "climate"
    assert post({"id": "morning", "thing": "livingroom", "cron": "0 8 * * *", "desired": {"mode": "eco"}})[0] == 409
    status, _, replaced = hub.request("PUT", "/v1/schedules/morning",
                                      {"thing": "livingroom", "cron": "0 8 * * *", "desired": {"mode": "eco"}})
    assert status == 200 and replaced["cron"] == "0 8 * * *"
    assert hub.request("POST", "/v1/schedules/morning/disable")[2]["state"] == "disabled"
    assert hub.request("DELETE", "/v1/schedules/morning")[0] == 200
    assert hub.request("GET", "/v1/schedules/morning")[0] == 404
    assert hubctl(hub, "schedule", "show", "morning").returncode == 5


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run hubctl as another user (setpriv)")
def test_scheduling_an_unlock_needs_what_an_unlock_needs(broker):
    directory = Path(tempfile.mkdtemp(prefix="homehub-schedules-", dir="/tmp"))
    directory.chmod(0o755)
    binary = directory / "hubctl"
    shutil.copy(HUBCTL, binary)
    binary.chmod(0o755)
    policy = ('[policy]\nread_groups = ["nogroup"]\nwrite_groups = ["nogroup"]\n'
              'sensitive_groups = ["homehub-door-openers"]\n')
    hub = plugin_hub(directory, broker, policy + heater_things())
    try:
        hub.stop()
        hub.config.write_text(hub.config.read_text().replace("[hub]\n", '[hub]\nsocket_group = "nogroup"\n'))
        hub.start()
        allowed = hubctl(hub, "schedule", "add", "frontdoor", "--cron", "0 7 * * *", "--command", "lock",
                         user="nobody", binary=binary)
        assert allowed.returncode == 0, allowed.stderr
        denied = hubctl(hub, "schedule", "add", "frontdoor", "--id", "open", "--cron", "0 7 * * *", "--command",
                        "unlock", user="nobody", binary=binary)
        assert denied.returncode == 4, denied.stderr
        assert "homehub-door-openers" in denied.stderr
        assert [s["id"] for s in hub.request("GET", "/v1/schedules")[2]["schedules"]] == ["frontdoor"]
    finally:
        hub.stop()
        shutil.rmtree(directory, ignore_errors=True)

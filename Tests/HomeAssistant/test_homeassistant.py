"""A real Home Assistant on the hub's broker (`make test-homeassistant`; docs/home-assistant.md).

Home Assistant 2025.4 from PyPI (scripts/homeassistant-env.sh) runs from a prepared config
directory: configuration.yaml, and its MQTT integration as a config entry in .storage that logs
in as the application `homeassistant` (made with hubctl apps add, as the docs say). The test
talks to Home Assistant only through its own REST API (an owner made by the onboarding API, a
token from /auth/token) and its own services: climate.set_temperature, lock.unlock,
cover.set_cover_position. With role write Home Assistant cannot unlock the door; with role
sensitive it can, through the command ledger.
"""
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Integration"))
from conftest import HUBCTL, ROOT, Hub, free_port, wait_for  # noqa: E402
from test_plugins import FAST, stage, things  # noqa: E402

HASS = ROOT / ".build/havenv/bin/hass"
CLIENT_ID = "http://127.0.0.1/"


class HomeAssistant:
    """Home Assistant in a config directory of ours, reached through its REST API."""

    def __init__(self, directory, broker_port, username, password):
        self.directory = directory
        self.port = free_port()
        self.log = directory / "home-assistant.out"
        self.token = None
        self.refresh_token = None
        (directory / ".storage").mkdir(parents=True, exist_ok=True)
        (directory / "configuration.yaml").write_text(
            "homeassistant:\n  name: Home\n  latitude: 52.37\n  longitude: 4.89\n  elevation: 0\n"
            "  unit_system: metric\n  time_zone: UTC\n  country: NL\n"
            f"http:\n  server_host: 127.0.0.1\n  server_port: {self.port}\n"
            "api:\nlogger:\n  default: warning\n  logs:\n    homeassistant.components.mqtt: info\n")
        self.set_broker(broker_port, username, password)
        self.process = None

    def set_broker(self, port, username, password):
        """The MQTT integration's config entry, as the UI would store it (Home Assistant migrates it)."""
        entry = {
            "entry_id": uuid.uuid4().hex, "version": 1, "minor_version": 1, "domain": "mqtt", "title": "homehub",
            "data": {"broker": "127.0.0.1", "port": port, "username": username, "password": password,
                     "discovery": True, "discovery_prefix": "homeassistant"},
            "options": {}, "pref_disable_new_entities": False, "pref_disable_polling": False, "source": "user",
            "unique_id": None, "disabled_by": None,
        }
        (self.directory / ".storage/core.config_entries").write_text(json.dumps(
            {"version": 1, "minor_version": 1, "key": "core.config_entries", "data": {"entries": [entry]}}))

    def start(self):
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([str(HASS), "-c", str(self.directory)], stdout=log, stderr=log)
        wait_for(self.answers, timeout=240, what=f"Home Assistant's HTTP API (log: {self.log})")
        if self.token is None:
            self.onboard()
        else:
            self.renew_token()
        wait_for(lambda: self.entry_state() == "loaded", timeout=60, what="the MQTT integration loaded")

    def answers(self):
        if self.process.poll() is not None:
            raise AssertionError(f"Home Assistant exited with {self.process.returncode}:\n{self.log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/onboarding", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def post_form(self, path, fields):
        data = "&".join(f"{key}={urllib.parse.quote(value)}" for key, value in fields.items()).encode()
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method="POST",
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def onboard(self):
        """The owner, through the onboarding API (what the first page of the UI does)."""
        created = self.call("POST", "/api/onboarding/users", {
            "client_id": CLIENT_ID, "name": "Owner", "username": "owner", "password": "owner-password-1",
            "language": "en"}, authorised=False)
        tokens = self.post_form("/auth/token", {"grant_type": "authorization_code", "code": created["auth_code"],
                                                "client_id": CLIENT_ID})
        self.token, self.refresh_token = tokens["access_token"], tokens["refresh_token"]

    def renew_token(self):
        tokens = self.post_form("/auth/token", {"grant_type": "refresh_token", "refresh_token": self.refresh_token,
                                                "client_id": CLIENT_ID})
        self.token = tokens["access_token"]

    def call(self, method, path, body=None, authorised=True):
        headers = {"Content-Type": "application/json"}
        if authorised:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method, headers=headers,
                                         data=json.dumps(body).encode() if body is not None else None)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                data = response.read()
                return json.loads(data) if data else None
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise AssertionError(f"{method} {path}: {error.code} {error.read()[:500]}") from error

    def entry_state(self):
        entries = self.call("GET", "/api/config/config_entries/entry") or []
        return next((entry["state"] for entry in entries if entry["domain"] == "mqtt"), None)

    def state(self, entity):
        return self.call("GET", f"/api/states/{entity}")

    def service(self, domain, name, **data):
        return self.call("POST", f"/api/services/{domain}/{name}", data)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def hubctl(hub, *arguments):
    result = subprocess.run([str(HUBCTL), "--socket", str(hub.socket), "--json", *arguments], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


@pytest.fixture(scope="module")
def setup():
    assert HASS.exists(), "Home Assistant is not installed: run scripts/homeassistant-env.sh (make test-homeassistant)"
    directory = Path(tempfile.mkdtemp(prefix="homehub-hass-", dir="/tmp"))
    plugins = directory / "plugins"
    stage(plugins)
    port = free_port()
    # As installed: nobody logs in without an application's password.
    config = (f'[hub]\ndata_dir = "{directory}/data"\nsocket = "{directory}/hubctl.sock"\n'
              f'[mqtt]\nmode = "embedded"\nport = {port}\nanonymous_role = "none"\n'
              f'[homeassistant]\nenabled = true\n'
              f'[plugins]\ndirs = ["{plugins}"]\n{FAST}'
              + things(("livingroom", "heater", {"initialTemperature": 18.0, "degreesPerMinute": 300.0,
                                                 "tickSeconds": 0.2}),
                       ("frontdoor", "doorlock", {"moveSeconds": 0.5, "readBackSeconds": 0.05}),
                       ("blind", "motor", {"speedPercentPerSecond": 100.0})))
    hub = Hub(directory, config)
    hub.port = port
    password = hubctl(hub, "apps", "add", "homeassistant", "--role", "write")["mqtt"]["password"]
    home = HomeAssistant(directory / "hass", port, "homeassistant", password)
    home.start()
    yield hub, home
    home.stop()
    hub.stop()
    shutil.rmtree(directory, ignore_errors=True)


def test_the_demo_devices_are_a_thermostat_a_lock_and_a_cover(setup):
    hub, home = setup
    climate = wait_for(lambda: home.state("climate.livingroom"), timeout=60, what="climate.livingroom")
    attributes = climate["attributes"]
    assert (attributes["min_temp"], attributes["max_temp"], attributes["target_temp_step"]) == (5, 30, 0.5)
    assert set(attributes["hvac_modes"]) == {"heat", "off"} and attributes["preset_modes"] == ["none", "eco"]
    wait_for(lambda: home.state("lock.frontdoor") and home.state("lock.frontdoor")["state"] == "locked",
             what="lock.frontdoor locked")
    cover = wait_for(lambda: home.state("cover.blind"), what="cover.blind")
    assert cover["state"] == "closed" and cover["attributes"]["current_position"] == 0
    # What the mapping does not cover: the heater's boost as a button.
    assert home.state("button.livingroom_boost") is not None


def test_set_temperature_warms_the_room(setup):
    hub, home = setup
    home.service("climate", "set_temperature", entity_id="climate.livingroom", temperature=22, hvac_mode="heat")
    wait_for(lambda: home.state("climate.livingroom")["attributes"]["temperature"] == 22, what="target 22")
    wait_for(lambda: home.state("climate.livingroom")["attributes"]["current_temperature"] >= 21.5, timeout=60,
             what="the room warmed towards 22 °C")
    assert home.state("climate.livingroom")["state"] == "heat"
    reported = hub.request("GET", "/things/livingroom/shadow?name=climate")[2]["state"]["reported"]
    assert (reported["targetTemperature"], reported["mode"]) == (22, "heat")
    rows = hub.request("GET", "/v1/audit?thing=livingroom&limit=50")[2]["entries"]
    assert any(row["identity"] == "application:homeassistant" and row["path"] == "homeassistant"
               and row["result"] == 200 for row in rows)


def test_the_blind_moves_to_a_position(setup):
    hub, home = setup
    home.service("cover", "set_cover_position", entity_id="cover.blind", position=40)
    wait_for(lambda: home.state("cover.blind")["attributes"].get("current_position") == 40, timeout=30,
             what="the blind at 40 %")
    moves = hub.request("GET", "/v1/commands?thing=blind")[2]["commands"]
    assert moves and moves[0]["command"] == "move" and moves[0]["parameters"] == {"position": 40}


def test_a_write_home_assistant_cannot_unlock_and_a_sensitive_one_can(setup):
    hub, home = setup
    home.service("lock", "unlock", entity_id="lock.frontdoor")
    refusal = wait_for(lambda: [row for row in hub.request("GET", "/v1/audit?thing=frontdoor&limit=50")[2]["entries"]
                                if row["identity"] == "application:homeassistant" and row["result"] == 403],
                       what="the refusal audited")
    assert "may not run the sensitive command 'unlock'" in refusal[-1]["detail"]
    assert home.state("lock.frontdoor")["state"] == "locked"
    assert hub.request("GET", "/v1/commands?thing=frontdoor")[2]["commands"] == []
    reported = hub.request("GET", "/things/frontdoor/shadow?name=lock")[2]["state"]["reported"]
    assert reported["lockState"] == "locked"

    # The household makes Home Assistant's login sensitive: a new application, a new password.
    home.stop()
    hubctl(hub, "apps", "remove", "homeassistant")
    password = hubctl(hub, "apps", "add", "homeassistant", "--role", "sensitive")["mqtt"]["password"]
    home.set_broker(hub.port, "homeassistant", password)
    home.start()
    wait_for(lambda: (home.state("lock.frontdoor") or {}).get("state") == "locked", timeout=60,
             what="lock.frontdoor back after Home Assistant's restart")
    home.service("lock", "unlock", entity_id="lock.frontdoor")
    wait_for(lambda: home.state("lock.frontdoor")["state"] == "unlocked", timeout=30, what="unlocked")
    commands = wait_for(lambda: [c for c in hub.request("GET", "/v1/commands?thing=frontdoor")[2]["commands"]
                                 if c["state"] == "SUCCEEDED"], what="the ledger's unlock")
    assert commands[0]["command"] == "unlock"
    assert commands[0]["requester"]["identity"] == "application:homeassistant"


def test_a_removed_thing_disappears(setup):
    hub, home = setup
    assert home.state("cover.blind") is not None
    hubctl(hub, "things", "rm", "blind")
    wait_for(lambda: home.state("cover.blind") is None, timeout=30, what="cover.blind removed")
    assert home.state("climate.livingroom") is not None

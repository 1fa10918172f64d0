#!/usr/bin/env python3
"""Writes the fuzz seed corpora, Tests/Fuzz/corpus/TARGET/NAME, from what the tests use:
the shadow vectors' request documents, the bundled and test manifests, the plugin protocol's
messages, the cron expressions and weekly programs of the schedule tests, the configuration
files and the control API's requests. Rerun after changing those; the output is committed."""
import hashlib
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "Fuzz" / "corpus"


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    folder = OUT / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def compact(value):
    return json.dumps(value, separators=(",", ":")).encode()


# Shadow: each vector's MQTT payloads in order, as one input (NUL-separated; a leading 0x01
# byte makes a get, 0x02 a delete), and each payload alone.
vectors = json.loads((ROOT / "Tests/HubCoreTests/Fixtures/shadow-vectors.json").read_text())
for vector in vectors:
    parts = []
    for step in vector.get("steps", []):
        if step.get("action") != "mqtt_publish":
            continue
        raw = step.get("payload_raw")
        payload = raw.encode() if raw is not None else (b"" if step.get("payload") == "" else compact(step.get("payload")))
        topic = step.get("topic", "")
        prefix = b"\x01" if topic.endswith("get") else b"\x02" if topic.endswith("delete") else b""
        parts.append(prefix + payload)
        write("shadow", prefix + payload)
        shadow = vector.get("shadow") or {}
        base = f"$aws/things/{shadow.get('thingName', 'thing')}/shadow"
        if shadow.get("shadowName"):
            base += f"/name/{shadow['shadowName']}"
        write("mqtt", f"{base}/{topic}\n".encode() + payload)
    if parts:
        write("shadow", b"\x00".join(parts))

for topic in ["$aws/things/a+b/shadow/update", "$aws/things/x/shadow/name/#/get", "$aws/things//shadow/get",
              "$aws/things/x/shadow/name//delete", "$aws/things/x/shadow/update/accepted"]:
    write("mqtt", topic + "\n{}")

# Manifests: the bundled plugins, the example, and the test fixtures (good and broken).
for path in list(ROOT.glob("Plugins/*/manifest.json")) + list(ROOT.glob("Plugins/examples/*/manifest.json")) \
        + list(ROOT.glob("Tests/HubPluginsTests/Fixtures/*/manifest.json")):
    write("manifest", path.read_bytes())

# Plugin output: the messages of docs/plugins.md, at a few read sizes (first byte).
lines = [
    {"jsonrpc": "2.0", "method": "shadow.report", "params": {"thing": "livingroom", "shadow": "climate",
                                                             "reported": {"temperature": 20.5}}},
    {"jsonrpc": "2.0", "id": 7, "method": "log", "params": {"level": "info", "message": "ready"}},
    {"jsonrpc": "2.0", "method": "device.event", "params": {"thing": "frontdoor", "event": "jammed"}},
    {"jsonrpc": "2.0", "method": "command.progress", "params": {"commandId": "c1", "progress": 0.5}},
    {"jsonrpc": "2.0", "method": "command.result", "params": {"commandId": "c1", "state": "SUCCEEDED"}},
    {"jsonrpc": "2.0", "id": 3, "result": {"ok": True}},
    {"jsonrpc": "2.0", "id": 4, "error": {"code": -32601, "message": "unknown method"}},
]
for size in (0, 7, 255):
    write("plugin-line", bytes([size]) + b"\n".join(compact(line) for line in lines) + b"\n")
for line in lines:
    write("plugin-line", b"\x10" + compact(line) + b"\n")
write("plugin-line", b"\x03" + b"x" * 100 + b"\n" + compact(lines[0]) + b"\n")
write("plugin-line", b"\x40not json\n{\"jsonrpc\":\"1.0\"}\n\n")

# Cron expressions and weekly programs of the schedule tests.
for cron in ["30 2 * * *", "0,15,30,45 2 * * *", "30 * * * *", "30 6 * * mon-fri", "*/15 * * * *",
             "0 0 * jan,jul sun", "0 0 * * 7", "0 12 1 * mon", "0 7 * * *", "59 23 31 12 *", "0 0 29 2 *",
             "5-55/10 1-3 * * 1-5", "* * * * *"]:
    write("cron", cron)
for program in [
    "mon-fri 06:30 targetTemperature=21 mode=heat; mon-fri 08:00 targetTemperature=17\n"
    "mon-fri 17:30 targetTemperature=21; mon-fri 22:30 targetTemperature=16\n"
    "sat,sun 08:00 targetTemperature=21; weekends 23:00 targetTemperature=16",
    "weekdays 06:30 targetTemperature=21; weekdays 08:00 targetTemperature=17; weekends 08:00 "
    "targetTemperature=21; weekends 23:00 targetTemperature=16; daily 02:30 mode=eco",
    "daily 07:00 t=1", "mon 06:30 position=50 label=\"half open\"", "sun 02:30 power=true; sun 03:00 power=false",
]:
    write("program", program)

# Configuration files.
for path in ROOT.glob("config/*.toml"):
    write("toml", path.read_bytes())
write("toml", '[mqtt]\nmode = "external"\nhost = "broker.local"\nport = 8883\n[shadows]\nmax_document_bytes = 8192\n')
write("toml", '# dates and arrays\nstart = 1979-05-27T07:32:00Z\nlist = [ [1, 2], ["a", "b"], ]\n"quoted key" = \'C:\\\\x\'\n'
      'multi = """\nline one\nline two"""\n[a.b.c]\nd = -0x1F\ne = 1_000\nf = +inf\n')
write("toml", '[hub]\ntime_zone = "Europe/Berlin"\n[[things]]\nname = "a"\nconfig = { x = 1, y = [1.5, "s"] }\n')

# Control-API requests: "METHOD /path?query\nBODY".
requests = [
    ("POST", "/things/lamp/shadow", {"state": {"desired": {"on": True}}}),
    ("POST", "/things/lamp/shadow?name=climate", {"state": {"reported": {"t": 20}}, "clientToken": "x"}),
    ("GET", "/things/lamp/shadow?name=climate", None),
    ("DELETE", "/things/lamp/shadow", None),
    ("GET", "/api/things/shadow/ListNamedShadowsForThing/lamp", None),
    ("POST", "/v1/things", {"name": "heater1", "type": "heater", "config": {"room": "kitchen"}}),
    ("GET", "/v1/things/lamp", None),
    ("DELETE", "/v1/things/heater1", None),
    ("POST", "/v1/things/lamp/commands", {"command": "toggle", "parameters": {"to": 1}, "ttlSeconds": 30,
                                          "timeoutSeconds": 5, "idempotencyKey": "k1"}),
    ("GET", "/v1/commands?thing=lamp&state=QUEUED&limit=5", None),
    ("POST", "/v1/commands/x/cancel", None),
    ("POST", "/v1/schedules", {"id": "morning", "thing": "lamp", "cron": "0 7 * * *", "desired": {"on": True}}),
    ("POST", "/v1/schedules", {"thing": "lamp", "program": "daily 07:00 on=true; daily 22:00 on=false",
                               "timeZone": "Europe/Berlin", "hold": "indefinite"}),
    ("POST", "/v1/schedules", {"thing": "lamp", "once": "2027-03-28T02:30", "command": "toggle"}),
    ("PUT", "/v1/schedules/morning", {"thing": "lamp", "cron": "0 8 * * *", "desired": {"on": False}}),
    ("GET", "/v1/schedules/morning/next?count=5&from=2027-03-27T00:00", None),
    ("POST", "/v1/schedules/morning/disable", None),
    ("GET", "/v1/audit?limit=3&target=lamp", None),
    ("GET", "/v1/status", None),
]
for method, target, body in requests:
    write("http", f"{method} {target}\n".encode() + (compact(body) if body is not None else b""))

#!/usr/bin/env python3
"""A homehub device-type plugin in Python, standard library only.

The hub starts this program and speaks JSON-RPC 2.0 with it, one JSON object per line:
requests and notifications arrive on stdin, answers and reports leave on stdout. Anything
written to stderr ends up in the hub's log, tagged with the plugin id.
"""
import json
import sys
import time

switches = {}  # thing -> bool (the simulated relay)


def send(message):
    message["jsonrpc"] = "2.0"
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def report(thing):
    send({"method": "shadow.report",
          "params": {"thing": thing, "shadow": "power",
                     "reported": {"on": switches[thing], "switchedAt": int(time.time())}}})


def set_switch(thing, on):
    switches[thing] = bool(on)
    print(f"{thing} switched {'on' if on else 'off'}", file=sys.stderr, flush=True)
    report(thing)


def add(device):
    thing = device["thing"]
    power = device.get("shadows", {}).get("power", {})
    switches[thing] = bool(power.get("reported", {}).get("on", False))
    wanted = power.get("desired", {}).get("on")
    if wanted is not None:
        set_switch(thing, wanted)
    else:
        report(thing)


def handle(message):
    method = message.get("method")
    params = message.get("params") or {}
    result = {"ok": True}
    if method == "initialize":
        switches.clear()
        for device in params.get("devices", []):
            add(device)
    elif method == "device.added":
        add(params["device"])
    elif method == "device.removed":
        switches.pop(params["thing"], None)
    elif method == "shadow.delta":
        if "on" in params.get("delta", {}):
            set_switch(params["thing"], params["delta"]["on"])
    elif method == "command.execute":
        thing, command_id = params["thing"], params["commandId"]
        if params["command"] == "toggle" and thing in switches:
            send({"id": message.get("id"), "result": {"accepted": True}})
            set_switch(thing, not switches[thing])
            send({"method": "command.result", "params": {"commandId": command_id, "status": "SUCCEEDED",
                                                          "result": {"on": switches[thing]}}})
            return
        result = {"accepted": False}
    elif method == "ping":
        result = "pong"
    elif method == "shutdown":
        send({"id": message.get("id"), "result": {"ok": True}})
        sys.exit(0)
    elif "id" in message and method is not None:
        send({"id": message["id"], "error": {"code": -32601, "message": f"unknown method '{method}'"}})
        return
    if method is not None and "id" in message:
        send({"id": message["id"], "result": result})


def main():
    for line in sys.stdin:
        line = line.strip()
        if line:
            handle(json.loads(line))


if __name__ == "__main__":
    main()

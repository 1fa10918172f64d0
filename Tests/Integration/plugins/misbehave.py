#!/usr/bin/env python3
"""A plugin that misbehaves on purpose, in the way its first argument names:
crash-at-start, crash-on-delta, hang, garbage, flood, huge-line. Otherwise it is a good
plugin for the device type 'probe' (reports desired 'value' back)."""
import json
import os
import sys

mode = sys.argv[1] if len(sys.argv) > 1 else "good"
if mode == "crash-at-start":
    sys.exit(3)


def send(message):
    message["jsonrpc"] = "2.0"
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    message = json.loads(line)
    method, params = message.get("method"), message.get("params") or {}
    if method == "ping" and mode == "hang":
        continue  # never answers: the hub must notice and kill it
    if "id" in message and method:
        send({"id": message["id"], "result": "pong" if method == "ping" else {"ok": True}})
    if method == "initialize":
        if mode == "garbage":
            sys.stdout.write("this is not json\n")
            sys.stdout.flush()
        elif mode == "flood":
            for sequence in range(200000):
                send({"method": "log", "params": {"message": f"flood {sequence}"}})
        elif mode == "huge-line":
            sys.stdout.write('{"jsonrpc":"2.0","method":"log","params":{"message":"' + "x" * (3 << 20) + '"}}\n')
            sys.stdout.flush()
        print(f"misbehave {mode} initialized with {len(params.get('devices', []))} devices (pid {os.getpid()})",
              file=sys.stderr, flush=True)
    if method == "shadow.delta":
        if mode == "crash-on-delta":
            os._exit(7)
        send({"id": "r", "method": "shadow.report",
              "params": {"thing": params["thing"], "shadow": "probe", "reported": {"value": params["desired"].get("value")}}})

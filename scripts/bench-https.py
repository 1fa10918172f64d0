#!/usr/bin/env python3
"""`make bench`'s HTTPS part: GetThingShadow and UpdateThingShadow over HTTPS with SigV4
(keep-alive, 1 and 16 clients) beside the same requests over the Unix socket, in one run,
against a release homehubd (requests/s, p50 and p99 latency).

The clients are Python: botocore signs each HTTPS request exactly as the AWS CLI does (its cost,
about a tenth of a millisecond, is part of the HTTPS figure, as it is for a real client), and
urllib3 keeps the connection alive; the socket client is http.client on AF_UNIX. Each of the 16
clients is its own process, so the GIL does not serialise them.

Usage: bench-https.py HOMEHUBD HUBCTL [--quick]
"""
import http.client
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import urllib3


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def run_client(arguments):
    transport, operation, count, settings, index = arguments
    thing = f"bench{index}"
    body = json.dumps({"state": {"desired": {"n": 1}}}).encode()
    latencies = []
    if transport == "https":
        credentials = botocore.credentials.Credentials(settings["key"], settings["secret"])
        pool = urllib3.HTTPSConnectionPool("127.0.0.1", settings["port"], maxsize=1, cert_reqs="CERT_REQUIRED",
                                           ca_certs=settings["ca"])
        url = f"https://127.0.0.1:{settings['port']}/things/{thing}/shadow"
        for _ in range(count):
            request = botocore.awsrequest.AWSRequest(
                method="POST" if operation == "update" else "GET", url=url,
                data=body if operation == "update" else None)
            started = time.perf_counter()
            botocore.auth.SigV4Auth(credentials, "iotdata", "eu-west-1").add_auth(request)
            response = pool.request(request.method, f"/things/{thing}/shadow", body=request.body,
                                    headers=dict(request.headers))
            latencies.append(time.perf_counter() - started)
            assert response.status == 200, response.data
    else:
        connection = UnixConnection(settings["socket"])
        for _ in range(count):
            started = time.perf_counter()
            if operation == "update":
                connection.request("POST", f"/things/{thing}/shadow", body=body,
                                   headers={"Content-Type": "application/json"})
            else:
                connection.request("GET", f"/things/{thing}/shadow")
            response = connection.getresponse()
            response.read()
            latencies.append(time.perf_counter() - started)
            assert response.status == 200
    return latencies


def measure(transport, operation, clients, count, settings):
    with multiprocessing.Pool(clients) as pool:
        started = time.perf_counter()
        results = pool.map(run_client, [(transport, operation, count, settings, index) for index in range(clients)])
        elapsed = time.perf_counter() - started
    latencies = sorted(latency for result in results for latency in result)
    return (len(latencies) / elapsed, latencies[len(latencies) // 2] * 1000,
            latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000)


def main():
    homehubd, hubctl = sys.argv[1], sys.argv[2]
    quick = "--quick" in sys.argv
    count = 100 if quick else 500
    directory = tempfile.mkdtemp(prefix="homehub-bench-https-")
    https_port = free_port()
    config = os.path.join(directory, "hub.toml")
    with open(config, "w") as file:
        file.write(f'[hub]\ndata_dir = "{directory}/data"\nsocket = "{directory}/hubctl.sock"\nlog_level = "warning"\n'
                   f'[mqtt]\nmode = "embedded"\nport = {free_port()}\n'
                   f'[http]\nlisten = ["127.0.0.1:{https_port}"]\n'
                   f'[plugins]\ndirs = []\n[shadows]\nrequests_per_second_per_thing = 0\n')
    hub = subprocess.Popen([homehubd, "--config", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                connection = UnixConnection(os.path.join(directory, "hubctl.sock"))
                connection.request("GET", "/v1/health")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("bench-https: homehubd did not become healthy")
            time.sleep(0.05)
        added = subprocess.run([hubctl, "--socket", os.path.join(directory, "hubctl.sock"), "--json", "apps", "add",
                                "bench", "--role", "write", "--access-key"], capture_output=True, text=True, check=True)
        keys = json.loads(added.stdout)["aws"]
        settings = {"port": https_port, "ca": os.path.join(directory, "data/ca/ca.crt"),
                    "key": keys["accessKeyId"], "secret": keys["secretAccessKey"],
                    "socket": os.path.join(directory, "hubctl.sock")}
        # Every client's shadow exists before the reads.
        run_client(("unix", "update", 1, settings, 0))
        for index in range(16):
            run_client(("unix", "update", 1, settings, index))
        print("AWS data-plane API: HTTPS + SigV4 (botocore-signed) beside the Unix socket, keep-alive")
        print(f"{'operation':<20}{'transport':<12}{'clients':<9}{'requests/s':>12}{'p50 ms':>10}{'p99 ms':>10}")
        for operation, name in (("get", "GetThingShadow"), ("update", "UpdateThingShadow")):
            for clients in (1, 16):
                for transport in ("unix", "https"):
                    rate, p50, p99 = measure(transport, operation, clients, count, settings)
                    label = "socket" if transport == "unix" else "https"
                    print(f"{name:<20}{label:<12}{clients:<9}{rate:>12.0f}{p50:>10.2f}{p99:>10.2f}")
        print("")
    finally:
        hub.terminate()
        hub.wait(timeout=20)
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()

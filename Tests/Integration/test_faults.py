"""Faults the hub must survive without losing what it acknowledged: here, a full disk. The data
directory is a 2 MB tmpfs in the hub's own mount namespace, filled up by a file the test
removes (through /proc/PID/root) to give the space back."""
import json
import os
import subprocess

import pytest

from conftest import HOMEHUBD, external_config, http_request, wait_for


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount a tmpfs in a private mount namespace")
def test_a_full_disk_rejects_updates_clearly_corrupts_nothing_and_service_resumes(tmp_path, broker):
    data = tmp_path / "data"
    data.mkdir()
    socket_path = tmp_path / "hubctl.sock"
    config = tmp_path / "hub.toml"
    config.write_text(external_config(tmp_path, broker))
    log = open(tmp_path / "homehubd.log", "wb")
    script = (f"mount -t tmpfs -o size=2m tmpfs {data} && "
              f"head -c 1400000 /dev/zero > {data}/filler && exec {HOMEHUBD} --config {config}")
    hub = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                           stdout=log, stderr=log)
    try:
        def ready():
            assert hub.poll() is None, (tmp_path / "homehubd.log").read_text()
            try:
                return http_request(socket_path, "GET", "/v1/health")[0] == 200
            except OSError:
                return False
        wait_for(ready, what="homehubd on a small disk")
        inside = f"/proc/{hub.pid}/root{data}"

        acknowledged = {}
        refused = None
        for index in range(2000):
            thing = f"t{index}"
            body = {"state": {"reported": {"blob": "x" * 6000, "index": index}}}
            status, _, answer = http_request(socket_path, "POST", f"/things/{thing}/shadow", body)
            if status == 200:
                acknowledged[thing] = answer["version"]
                continue
            refused = (status, answer)
            break
        assert refused is not None, "the disk never filled"
        assert refused[0] in (500, 503), refused
        assert len(acknowledged) > 10
        text = (tmp_path / "homehubd.log").read_text(errors="replace")
        assert "shadow write failed" in text and ("full" in text or "FULL" in text), text[-2000:]
        # The hub still serves reads, and says nothing was lost.
        assert http_request(socket_path, "GET", "/things/t0/shadow")[0] == 200

        # Space comes back: writes work again, without a restart.
        os.unlink(f"{inside}/filler")
        status, _, _ = http_request(socket_path, "POST", "/things/after/shadow",
                                    {"state": {"reported": {"back": True}}})
        assert status == 200

        # Every acknowledged update is in the database, which is intact.
        # (Read inside the hub's mount namespace: SQLite resolves /proc/PID/root to the real path.)
        check = ("import json, sqlite3, sys; d = sqlite3.connect(sys.argv[1], timeout=10); "
                 "print(json.dumps([d.execute('PRAGMA integrity_check').fetchone()[0], "
                 "dict(d.execute(\"SELECT thing, version FROM shadows WHERE shadow = ''\").fetchall())]))")
        output = subprocess.run(["nsenter", "-t", str(hub.pid), "-m", "python3", "-c", check, f"{data}/hub.db"],
                                capture_output=True, text=True, check=True).stdout
        integrity, stored = json.loads(output)
        assert integrity == "ok"
        missing = {t: v for t, v in acknowledged.items() if stored.get(t) != v}
        assert not missing, f"acknowledged but not stored: {list(missing)[:5]}"
    finally:
        hub.terminate()
        hub.wait(timeout=15)
        log.close()

#!/usr/bin/python3
"""A small stand-in for systemd, for the package install test (no systemd as PID 1 here).

Does for homehubd what homehubd.socket and homehubd.service ask of systemd: binds the control
socket (0660, group homehub) and passes it as fd 3 (LISTEN_FDS, LISTEN_PID), provides
NOTIFY_SOCKET and WATCHDOG_USEC, points stderr at a "journal stream" (JOURNAL_STREAM) and
listens on a journal socket for the structured records, runs the daemon as user homehub, and
checks READY=1, WATCHDOG=1 and, after SIGTERM, STOPPING=1 and a clean exit.

    standin-systemd.py [--expect-field FIELD[=VALUE]]... -- COMMAND...

COMMAND runs once the hub is READY (the checks against the running hub); its exit status
is this script's when every systemd check passed too.
"""
import grp
import os
import pwd
import signal
import socket
import subprocess
import sys
import threading
import time

SOCKET = "/run/homehub/hubctl.sock"
NOTIFY = "/run/homehub-standin-notify.sock"
JOURNAL = "/run/systemd/journal/socket"
WATCHDOG_USEC = 3_000_000


def fail(message):
    print(f"standin-systemd: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def receive_until(notify, wanted, deadline, seen):
    """Reads notify datagrams until one holds `wanted`, or the deadline passes."""
    while time.monotonic() < deadline:
        notify.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = notify.recv(4096).decode()
        except socket.timeout:
            break
        for line in data.splitlines():
            seen.append(line)
            if line.startswith("STATUS="):
                print(f"standin-systemd: {line}")
            if line == wanted:
                return True
    return False


class Journal:
    """The journal socket, read all the time as journald does (a reader that stops would
    block the daemon's logging once the socket's queue is full)."""

    def __init__(self, path):
        if os.path.exists(path):
            os.unlink(path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        self.socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.socket.bind(path)
        os.chmod(path, 0o666)
        self.records = []
        self.lock = threading.Lock()
        threading.Thread(target=self.read, daemon=True).start()

    def read(self):
        while True:
            data = self.socket.recv(1 << 20)
            record = {}
            for line in data.split(b"\n"):
                if b"=" in line:
                    key, _, value = line.partition(b"=")
                    record[key.decode()] = value.decode(errors="replace")
            with self.lock:
                self.records.append(record)

    def snapshot(self):
        with self.lock:
            return list(self.records)


def main():
    arguments = sys.argv[1:]
    expected = []
    while arguments and arguments[0] == "--expect-field":
        key, _, value = arguments[1].partition("=")
        expected.append((key, value or None))
        arguments = arguments[2:]
    if not arguments or arguments[0] != "--":
        fail(__doc__)
    command = arguments[1:]

    user = pwd.getpwnam("homehub")
    group = grp.getgrnam("homehub")
    # RuntimeDirectory=homehub (0755), the socket unit's SocketGroup/SocketMode.
    os.makedirs("/run/homehub", mode=0o755, exist_ok=True)
    os.chown("/run/homehub", user.pw_uid, group.gr_gid)
    if os.path.exists(SOCKET):
        os.unlink(SOCKET)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(SOCKET)
    os.chown(SOCKET, 0, group.gr_gid)
    os.chmod(SOCKET, 0o660)
    listener.listen(64)

    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if os.path.exists(NOTIFY):
        os.unlink(NOTIFY)
    notify.bind(NOTIFY)
    os.chmod(NOTIFY, 0o666)
    journal = Journal(JOURNAL)

    stream = open("/run/homehub-standin-stderr.log", "w+b")
    status = os.fstat(stream.fileno())
    pid = os.fork()
    if pid == 0:
        if listener.fileno() == 3:
            os.set_inheritable(3, True)  # dup2(3, 3) would keep close-on-exec
        else:
            os.dup2(listener.fileno(), 3)
        os.dup2(stream.fileno(), 2)
        os.dup2(stream.fileno(), 1)
        os.closerange(4, 1024)
        environment = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LISTEN_FDS": "1", "LISTEN_PID": str(os.getpid()),
            "LISTEN_FDNAMES": "hubctl.sock", "NOTIFY_SOCKET": NOTIFY, "WATCHDOG_USEC": str(WATCHDOG_USEC),
            "JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}", "HOME": "/var/lib/homehub",
        }
        os.setgroups([])
        os.setgid(group.gr_gid)
        os.setuid(user.pw_uid)
        os.chdir("/var/lib/homehub")
        os.execve("/usr/sbin/homehubd", ["homehubd", "--config", "/etc/homehub/hub.toml"], environment)
    listener.close()

    seen = []
    outcome = 1
    try:
        if not receive_until(notify, "READY=1", time.monotonic() + 60, seen):
            stream.seek(0)
            logs = "\n".join(str({k: v for k, v in r.items() if not k.startswith('CODE_')})
                             for r in journal.snapshot())
            fail(f"no READY=1 within 60 s; got {seen}\njournal:\n{logs}\nstderr:\n"
                 f"{stream.read().decode(errors='replace')}")
        print("standin-systemd: READY=1")
        if not receive_until(notify, "WATCHDOG=1", time.monotonic() + WATCHDOG_USEC / 1e6, seen):
            fail(f"no WATCHDOG=1 within the watchdog interval; got {seen}")
        print("standin-systemd: WATCHDOG=1")
        outcome = subprocess.run(command).returncode
        # The journal: structured records, not text on stderr.
        records = journal.snapshot()
        stream.seek(0)
        text = stream.read().decode(errors="replace")
        if not records:
            fail("no record reached the journal socket")
        # homehubd's own records, and mosquitto's (its stderr, tagged as mosquitto's).
        def well_formed(record):
            identifier = record.get("SYSLOG_IDENTIFIER")
            return "PRIORITY" in record and "MESSAGE" in record and (
                identifier == "homehubd" or (identifier == "mosquitto" and record.get("SOURCE") == "mosquitto"))
        broken = [r for r in records if not well_formed(r)]
        if broken:
            fail(f"a journal record lacks PRIORITY, MESSAGE or its SYSLOG_IDENTIFIER: {broken[:3]}")
        if not any(r.get("SYSLOG_IDENTIFIER") == "mosquitto" for r in records):
            fail("no record of mosquitto's carries SYSLOG_IDENTIFIER=mosquitto")
        for key, value in expected:
            if not any(key in r and (value is None or r[key] == value) for r in records):
                fail(f"no journal record with {key}={value}; fields seen: {sorted({k for r in records for k in r})}")
        # mosquitto's own lines may go to the stream (as under systemd); the hub's may not.
        if " homehubd :" in text:
            fail(f"homehubd logged text to stderr although JOURNAL_STREAM was the journal: {text[:500]}")
        print(f"standin-systemd: {len(records)} structured journal records"
              + "".join(f", {k}{'=' + v if v else ''} present" for k, v in expected))
    finally:
        os.kill(pid, signal.SIGTERM)
        stopping = receive_until(notify, "STOPPING=1", time.monotonic() + 20, seen)
        for _ in range(200):
            done, code = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
            _, code = os.waitpid(pid, 0)
            fail("homehubd did not exit within 20 s of SIGTERM")
        if not stopping:
            fail("no STOPPING=1 after SIGTERM")
        if os.waitstatus_to_exitcode(code) != 0:
            fail(f"homehubd exited with {os.waitstatus_to_exitcode(code)} after SIGTERM")
        print("standin-systemd: STOPPING=1, exit 0")
    sys.exit(outcome)


if __name__ == "__main__":
    main()

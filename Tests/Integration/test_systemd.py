"""homehubd under a stand-in for systemd: sd_notify (READY, STATUS, WATCHDOG, STOPPING) and
socket activation (an inherited listening socket as fd 3)."""
import os
import signal
import socket
import subprocess

from conftest import HOMEHUBD, external_config, http_request, wait_for


def test_notify_ready_watchdog_and_stopping(tmp_path, broker):
    notify_path = str(tmp_path / "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(15)
    config = tmp_path / "hub.toml"
    config.write_text(external_config(tmp_path, broker))
    env = dict(os.environ, NOTIFY_SOCKET=notify_path, WATCHDOG_USEC="300000")
    # WATCHDOG_PID must name the service's own pid: exec from a shell keeps the shell's pid.
    process = subprocess.Popen(["sh", "-c", f'WATCHDOG_PID=$$ exec "{HOMEHUBD}" --config "{config}"'], env=env,
                               stderr=subprocess.DEVNULL)
    try:
        received = []

        def messages_until(needle):
            while not any(needle in message for message in received):
                received.append(notify.recv(4096).decode())
            return True

        messages_until("READY=1")
        # READY only once the API answers and the broker is connected.
        assert http_request(tmp_path / "hubctl.sock", "GET", "/v1/health")[0] == 200
        messages_until("WATCHDOG=1")
        assert any(m.startswith("STATUS=serving") for m in received), received
        process.send_signal(signal.SIGTERM)
        messages_until("STOPPING=1")
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
        notify.close()


def test_socket_activation_uses_the_inherited_socket(tmp_path, broker):
    activated = tmp_path / "activated.sock"
    config = tmp_path / "hub.toml"
    # The configured socket path is not used when systemd passes one.
    config.write_text(external_config(tmp_path, broker))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(activated))
    listener.listen(16)
    os.set_inheritable(listener.fileno(), True)
    command = (f'exec 3<&{listener.fileno()}; LISTEN_FDS=1 LISTEN_PID=$$ exec "{HOMEHUBD}" --config "{config}"')
    process = subprocess.Popen(["bash", "-c", command], pass_fds=[listener.fileno()], stderr=open(tmp_path / "log", "wb"))
    listener.close()
    try:
        wait_for(lambda: _healthy(activated), what="health on the activated socket")
        assert not (tmp_path / "hubctl.sock").exists()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        # The socket belongs to systemd: the hub leaves it in place.
        assert activated.exists()
    finally:
        if process.poll() is None:
            process.kill()


def _healthy(path):
    try:
        return http_request(path, "GET", "/v1/health")[0] == 200
    except OSError:
        return False

"""The daemon itself speaks systemd's notify protocol: READY once running, STATUS on changes,
WATCHDOG while the scan cycle is alive, STOPPING on the way out (a fake NOTIFY_SOCKET)."""

import os
import signal
import socket
import subprocess
import sys


def test_daemon_sends_ready_status_watchdog_and_stopping(tmp_path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(30)
    env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="200000")
    proc = subprocess.Popen([sys.executable, "-m", "controller.app.cli", "run", "--sim", "--program", "warm_up",
                             "--state-dir", str(tmp_path / "state"), "--log-level", "WARNING"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: list[str] = []
    try:
        while not ("READY=1" in seen and seen.count("WATCHDOG=1") >= 3 and any(s.startswith("STATUS=") for s in seen)):
            data = sock.recv(4096).decode()
            seen += data.split("\n")
        proc.send_signal(signal.SIGTERM)
        while "STOPPING=1" not in seen:
            seen += sock.recv(4096).decode().split("\n")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
    assert seen.index("READY=1") < len(seen) - 1
    assert any(s.startswith("STATUS=running") for s in seen)

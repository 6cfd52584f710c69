"""A real MQTT broker on a free loopback port, as a subprocess, for the bench and the tests.

mosquitto when it is installed, else amqtt's broker (a test dependency). It can be stopped and
started again on the same port, which is how the tests take the broker away from a running
bridge. Nothing is persisted: a restarted broker has forgotten every retained message, as
after a crash.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def find_mosquitto() -> str | None:
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin:/opt/homebrew/sbin")


class LocalBroker:
    """A broker subprocess on ``host:port``; ``stop()`` and ``start()`` keep the same port.

    Unpacks as ``host, port``. ``kind`` is ``"mosquitto"`` or ``"amqtt"``. Nothing is
    persisted: a restarted broker has forgotten every retained message, as after a crash.
    """

    def __init__(self, kind: str | None = None, host: str = "127.0.0.1", port: int | None = None,
                 workdir: str | Path | None = None, tls: dict[str, str] | None = None) -> None:
        """``tls``: ``{"cafile", "certfile", "keyfile"}`` paths for a TLS-only listener that asks
        clients for a certificate signed by ``cafile``."""
        mosquitto = find_mosquitto()
        self.kind = kind or ("mosquitto" if mosquitto else "amqtt")
        if self.kind == "mosquitto" and not mosquitto:
            raise RuntimeError("mosquitto is not installed")
        self.host = host
        self.port = port or free_port(host)
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="legtherapy-broker-"))
        self.log_path = self.workdir / f"{self.kind}.log"
        self._proc: subprocess.Popen | None = None
        if self.kind == "mosquitto":
            conf = self.workdir / "mosquitto.conf"
            # run as root (CI), mosquitto would switch to its own user, which cannot read our temp files
            user = "root" if os.geteuid() == 0 else "mosquitto"
            text = (f"listener {self.port} {self.host}\nallow_anonymous true\npersistence false\nuser {user}\n"
                    "set_tcp_nodelay true\n"
                    "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n")
            if tls:
                text += (f"cafile {tls['cafile']}\ncertfile {tls['certfile']}\nkeyfile {tls['keyfile']}\n"
                         "require_certificate true\n")
            conf.write_text(text)
            self._argv = [mosquitto, "-c", str(conf)]
        else:
            conf = self.workdir / "amqtt.yaml"
            listener = f"listeners:\n  default:\n    type: tcp\n    bind: {self.host}:{self.port}\n"
            if tls:  # amqtt verifies a client certificate when one is offered (CERT_OPTIONAL)
                listener += (f"    ssl: true\n    cafile: {tls['cafile']}\n    certfile: {tls['certfile']}\n"
                             f"    keyfile: {tls['keyfile']}\n")
            conf.write_text(listener + "plugins:\n  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
                            "    allow_anonymous: true\n")
            self._argv = [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(conf)]

    def __iter__(self):
        return iter((self.host, self.port))

    def __repr__(self) -> str:
        return f"<LocalBroker {self.kind} {self.host}:{self.port} {'running' if self.running else 'stopped'}>"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 20.0) -> None:
        if self.running:
            return
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(self._argv, stdout=log, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait_until_listening(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the broker (SIGTERM, then SIGKILL); its clients see their connection drop."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    async def async_start(self) -> None:
        """``start`` without blocking the event loop the machine and the bridge run on."""
        await asyncio.to_thread(self.start)

    async def async_stop(self) -> None:
        await asyncio.to_thread(self.stop)

    def close(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def _wait_until_listening(self, timeout: float) -> None:
        # The one place a test waits on wall-clock time: a subprocess opening its port.
        deadline = time.monotonic() + timeout
        while True:
            if self._proc is None or self._proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited while starting:\n{self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"{self.kind} did not listen on {self.host}:{self.port} "
                                       f"within {timeout} s:\n{self.log_tail()}") from None
                time.sleep(0.05)

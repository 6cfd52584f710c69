"""systemd notifications: READY, STATUS, WATCHDOG keep-alives, STOPPING.

The protocol is one datagram of newline-separated ``KEY=value`` lines sent to the AF_UNIX
socket named in ``$NOTIFY_SOCKET`` (a leading ``@`` names a socket in the abstract namespace,
i.e. a leading NUL byte). That is a single ``sendto``, so this needs no extra dependency
(no python-systemd / sdnotify / libsystemd). Without ``$NOTIFY_SOCKET`` (tests, the simulator,
a shell) every call is a no-op.

It never raises into the control loop: a failed send is logged (once per failure streak) and
reported as False. The socket is non-blocking, so a stalled service manager cannot stall a
tick; a dropped keep-alive is what the watchdog is for anyway.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Mapping

log = logging.getLogger(__name__)


class SystemdNotifier:
    def __init__(self, env: Mapping[str, str] = os.environ) -> None:
        self._env = env
        self._address: str | None = None
        self._socket: socket.socket | None = None
        self._failing = False
        raw = env.get("NOTIFY_SOCKET") or ""
        if raw.startswith("@"):
            self._address = "\0" + raw[1:]
        elif raw.startswith("/"):
            self._address = raw
        elif raw:
            log.warning("NOTIFY_SOCKET=%r is not an absolute path or @abstract name: notifications off", raw)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, *lines: str) -> bool:
        """Send ``KEY=value`` lines as one datagram; True if it was sent (False when disabled)."""
        if self._address is None or not lines:
            return False
        data = "\n".join(lines).encode("utf-8", "replace")
        try:
            if self._socket is None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                sock.setblocking(False)
                self._socket = sock
            self._socket.sendto(data, self._address)
        except Exception as err:  # noqa: BLE001 - never into the control loop
            if not self._failing:
                log.warning("systemd notify to %r failed: %s", self._address.replace("\0", "@"), err)
            self._failing = True
            self._drop_socket()
            return False
        if self._failing:
            log.info("systemd notify works again")
        self._failing = False
        return True

    def ready(self, status: str | None = None) -> bool:
        lines = ["READY=1"]
        if status:
            lines.append("STATUS=" + _one_line(status))
        return self.notify(*lines)

    def status(self, text: str) -> bool:
        return self.notify("STATUS=" + _one_line(text))

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        lines = ["STOPPING=1"]
        if status:
            lines.append("STATUS=" + _one_line(status))
        return self.notify(*lines)

    def watchdog_interval_s(self) -> float | None:
        """How often to send WATCHDOG=1: half of ``$WATCHDOG_USEC``; None when there is no watchdog.

        ``$WATCHDOG_PID``, when set, must be our pid: the variables may have been inherited from
        a parent the watchdog is really meant for.
        """
        usec = self._env.get("WATCHDOG_USEC")
        if not usec:
            return None
        pid = self._env.get("WATCHDOG_PID")
        try:
            if pid and int(pid) != os.getpid():
                return None
            value = int(usec)
        except ValueError:
            log.warning("ignoring a malformed watchdog setting: WATCHDOG_USEC=%r WATCHDOG_PID=%r", usec, pid)
            return None
        if value <= 0:
            return None
        return value / 2 / 1_000_000

    def close(self) -> None:
        self._drop_socket()

    def _drop_socket(self) -> None:
        if self._socket is not None:
            try:
                self._socket.close()
            except OSError:
                pass
            self._socket = None


def _one_line(text: str) -> str:
    """A STATUS value must stay one line: a newline would start a new (bogus) KEY=value."""
    return " ".join(str(text).split())

"""Heartbeat pin to the external retriggerable timer that holds the master relay.

Each edge retriggers the timer; if the scan cycle stops toggling (hang, crash), the timer runs
out and the relay drops within ~200 ms with no software involved.
"""

from __future__ import annotations

from .gpio_output import LowReleasingOutput


class Heartbeat:
    def __init__(self, pin: int, pin_factory=None) -> None:
        self._output = LowReleasingOutput(pin, pin_factory=pin_factory)

    def toggle(self) -> None:
        self._output.toggle()

    @property
    def value(self) -> bool:
        return self._output.is_on

    def close(self) -> None:
        self._output.close()

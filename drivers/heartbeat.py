"""Heartbeat pin to the external retriggerable timer that holds the master relay.

Each edge retriggers the timer; if the scan cycle stops toggling (hang, crash), the timer runs
out and the relay drops within ~200 ms with no software involved.
"""

from __future__ import annotations

from gpiozero import DigitalOutputDevice


class Heartbeat:
    def __init__(self, pin: int, pin_factory=None) -> None:
        self._device = DigitalOutputDevice(pin, initial_value=False, pin_factory=pin_factory)

    def toggle(self) -> None:
        self._device.toggle()

    @property
    def value(self) -> bool:
        return bool(self._device.value)

    def close(self) -> None:
        self._device.close()

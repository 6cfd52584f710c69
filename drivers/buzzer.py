"""Panel buzzer (active buzzer: on/off only; patterns are timed by the controller)."""

from __future__ import annotations

from gpiozero import Buzzer


class PanelBuzzer:
    def __init__(self, pin: int, pin_factory=None) -> None:
        self._device = Buzzer(pin, initial_value=False, pin_factory=pin_factory)

    def set(self, on: bool) -> None:
        if on:
            self._device.on()
        else:
            self._device.off()

    @property
    def is_on(self) -> bool:
        return bool(self._device.is_active)

    def close(self) -> None:
        self._device.close()

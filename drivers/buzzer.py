"""Panel buzzer (active buzzer: on/off only; patterns are timed by the controller)."""

from __future__ import annotations

from .gpio_output import LowReleasingOutput


class PanelBuzzer:
    def __init__(self, pin: int, pin_factory=None) -> None:
        self._output = LowReleasingOutput(pin, pin_factory=pin_factory)

    def set(self, on: bool) -> None:
        self._output.set(bool(on))

    @property
    def is_on(self) -> bool:
        return self._output.is_on

    def close(self) -> None:
        self._output.close()

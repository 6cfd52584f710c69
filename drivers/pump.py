"""Diaphragm pump MOSFET, PWM for flow control (slower fill near the target pressure).

The duty may reach the pin up to one PWM cycle late (lgpio applies a new duty at the end of the
current cycle): 1 ms at 1 kHz, well inside a tick. Closing leaves the pin pulled down.
"""

from __future__ import annotations

import math

from gpiozero import PWMOutputDevice

from .gpio_output import pull_down_first, release_pulled_down, resolve_factory


class Pump:
    def __init__(self, pin: int, *, frequency_hz: float = 1000, pin_factory=None) -> None:
        self._factory = resolve_factory(pin_factory)
        self.pin = pin
        pull_down_first(self._factory, pin)
        self._device = PWMOutputDevice(
            pin, frequency=frequency_hz, initial_value=0.0, pin_factory=self._factory
        )

    def set_duty(self, d: float) -> None:
        """Clamped to [0, 1]; NaN means off."""
        self._device.value = 0.0 if math.isnan(d) else min(1.0, max(0.0, d))

    @property
    def duty(self) -> float:
        return float(self._device.value)

    def close(self) -> None:
        if self._device.closed:
            return
        self._device.value = 0.0
        self._device.close()
        release_pulled_down(self._factory, self.pin)

"""Diaphragm pump MOSFET, PWM for flow control (slower fill near the target pressure)."""

from __future__ import annotations

import math

from gpiozero import PWMOutputDevice


class Pump:
    def __init__(self, pin: int, *, frequency_hz: float = 1000, pin_factory=None) -> None:
        self._device = PWMOutputDevice(
            pin, frequency=frequency_hz, initial_value=0.0, pin_factory=pin_factory
        )

    def set_duty(self, d: float) -> None:
        """Clamped to [0, 1]; NaN means off."""
        self._device.value = 0.0 if math.isnan(d) else min(1.0, max(0.0, d))

    @property
    def duty(self) -> float:
        return float(self._device.value)

    def close(self) -> None:
        self._device.value = 0.0
        self._device.close()

"""Heat pad MOSFET driven by slow time-proportioning PWM.

A resistive pad's thermal time constant is minutes, so switching it fully on for duty × 2 s of
every 2 s delivers the same heat as fast PWM, while the MOSFET switches rarely: negligible
switching loss, and no fast high-current edges next to the thermistor wiring. The PID's output
is the duty; nothing here regulates temperature.
"""

from __future__ import annotations

import math

from gpiozero import PWMOutputDevice


class Heater:
    def __init__(self, pin: int, *, period_s: float = 2.0, pin_factory=None) -> None:
        if not period_s > 0:
            raise ValueError(f"heater period_s {period_s!r} must be > 0")
        self._device = PWMOutputDevice(
            pin, frequency=1.0 / period_s, initial_value=0.0, pin_factory=pin_factory
        )

    def set_duty(self, d: float) -> None:
        """Clamped to [0, 1]; NaN (a controller's arithmetic gone wrong) means off."""
        self._device.value = 0.0 if math.isnan(d) else min(1.0, max(0.0, d))

    @property
    def duty(self) -> float:
        return float(self._device.value)

    def close(self) -> None:
        self._device.value = 0.0
        self._device.close()

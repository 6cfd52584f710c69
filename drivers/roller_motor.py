"""Roller gear motor on a phase/enable H-bridge: PWM on enable for speed, phase for direction.

Both pins are pulled down underneath and when let go (drivers/gpio_output.py).
"""

from __future__ import annotations

import math

from gpiozero import PhaseEnableMotor

from .gpio_output import pull_down_first, release_pulled_down, resolve_factory


class RollerMotor:
    def __init__(
        self, pwm_pin: int, dir_pin: int, *, frequency_hz: float = 1000, pin_factory=None
    ) -> None:
        self._factory = resolve_factory(pin_factory)
        self.pins = (pwm_pin, dir_pin)
        for pin in self.pins:
            pull_down_first(self._factory, pin)
        self._motor = PhaseEnableMotor(
            phase=dir_pin, enable=pwm_pin, pwm=True, pin_factory=self._factory
        )
        # gpiozero's motor classes take no frequency; its PWM default (100 Hz) would make the
        # motor whine audibly, so set the enable device's frequency directly.
        self._motor.enable_device.frequency = frequency_hz

    def set_speed(self, s: float) -> None:
        """-1..1, sign = direction; clamped, NaN means stop."""
        s = 0.0 if math.isnan(s) else min(1.0, max(-1.0, s))
        current = self._motor.value
        if s != 0.0 and current != 0.0 and (s > 0) == (current > 0):
            # Same direction: only change the duty. gpiozero's forward()/backward() switch
            # enable off first, which at 50 Hz updates would chop the PWM every tick.
            self._motor.enable_device.value = abs(s)
        elif s == 0.0:
            self._motor.enable_device.off()  # stopped: both pins low (phase low too: no pin
            self._motor.phase_device.off()  # left high for a released line to inherit)
        else:
            self._motor.value = s  # enable off -> set phase -> enable on

    @property
    def speed(self) -> float:
        return float(self._motor.value)

    def close(self) -> None:
        """Stop, free both pins, and leave them pulled down (never floating)."""
        if self._motor.closed:
            return
        self._motor.stop()
        self._motor.close()
        for pin in self.pins:
            release_pulled_down(self._factory, pin)

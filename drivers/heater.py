"""Heat pad MOSFET, time-proportioned by the scan cycle on a plain GPIO output.

A resistive pad's thermal time constant is minutes, so switching it fully on for duty × 2 s of
every 2 s window delivers the same heat as fast PWM, while the MOSFET switches at most twice a
window: negligible switching loss, no fast high-current edges next to the thermistor wiring.

Why not gpiozero's PWM: on a Pi it is lgpio's software PWM, which applies a new duty only at
the end of the current cycle (a cut would leave the pad powered up to a whole 2 s period), and
gpiozero truncates the duty to whole percent (a PID output under 1 % would never heat). Here
the scan cycle calls ``step()`` once a tick: one tick is one slot of the window (20 ms of 2 s =
1 %), the pin is written with a plain GPIO write, a cut (``set_duty(0)`` or ``off()``) drops it
at once, and the fraction of a slot a window cannot give is carried into the next window, so
a 0.4 % duty still heats for one slot every 2.5 windows. If the scan cycle stops stepping, the
pin stays where the last step left it, and the watchdog's safe state and the external relay
timer (no heartbeat) cut it: the heat never runs on without the loop. The PID's output is the
duty; nothing here regulates temperature.
"""

from __future__ import annotations

import math

from .gpio_output import LowReleasingOutput


class Heater:
    def __init__(self, pin: int, *, period_s: float = 2.0, step_s: float = 0.02, pin_factory=None) -> None:
        if not period_s > 0:
            raise ValueError(f"heater period_s {period_s!r} must be > 0")
        if not 0 < step_s <= period_s:
            raise ValueError(f"heater step_s {step_s!r} must be > 0 and at most period_s {period_s!r}")
        self._output = LowReleasingOutput(pin, pin_factory=pin_factory)
        self.period_s = period_s
        self.slots = max(1, round(period_s / step_s))  # slots in a window (100 at 2 s / 20 ms)
        self._duty = 0.0
        self._slot = 0  # position in the current window
        self._carry = 0.0  # slots owed from earlier windows (always 0 <= carry < 1)
        self._window_carry = 0.0  # the carry as this window began

    def set_duty(self, d: float) -> None:
        """The duty from now on (clamped to [0, 1]; NaN means off). A lower duty takes effect at
        the next ``step()``; 0 cuts the pin at once."""
        duty = 0.0 if math.isnan(d) else min(1.0, max(0.0, d))
        self._duty = duty
        if duty == 0.0:
            self.off()

    def step(self) -> None:
        """One scan tick: write the pin for this slot of the window, then move on one slot."""
        if self._slot == 0:
            self._window_carry = self._carry
        owed = self._window_carry + self._duty * self.slots
        self._output.set(self._slot < math.floor(owed))
        self._slot += 1
        if self._slot == self.slots:  # window done: carry what it could not give
            self._slot = 0
            self._carry = owed - math.floor(owed)

    def off(self) -> None:
        """Pin low now and duty 0, and forget any owed fraction (a cut owes nothing)."""
        self._duty = 0.0
        self._carry = self._window_carry = 0.0
        self._output.set(False)

    @property
    def duty(self) -> float:
        """The commanded duty (the pin shows it averaged over a window)."""
        return self._duty

    @property
    def is_on(self) -> bool:
        """What the pin drives now."""
        return self._output.is_on

    def close(self) -> None:
        self.off()
        self._output.close()

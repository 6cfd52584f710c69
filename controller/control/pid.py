"""A PID loop for slow thermal plants, in the manner of Klipper's ControlPID.

Why each choice:

- The derivative acts on the *measurement*, not on the error, so a new setpoint does not kick
  the output; it goes through a first-order filter because a thermistor read by an ADC at a few
  hertz is noisy, and an unfiltered difference would make the heater chatter.
- The integral is kept in output units (duty), so changing ``ki`` never bumps the output, and it
  is wound only while that does not push the output further into a limit (conditional
  integration) and is itself held within the output limits. After a long saturation (a cold
  pad warming at full power) the integral has not grown, so the output leaves the limit as soon
  as the error turns: no windup overshoot.
- A NaN reading (a lost sensor) yields 0 and leaves the state alone: the safety layer decides
  what a missing reading means; the loop must not learn from it.
- Time comes in as ``now_s``; the first call has no interval, and a zero, negative or
  vanishingly short interval (a repeated or out-of-order tick) integrates and differentiates
  nothing.
"""

from __future__ import annotations

import math

#: intervals shorter than this (a repeated tick, a clock hiccup) carry no usable rate: they are
#: treated like a zero interval rather than divided by
MIN_DT_S = 1e-6


class Pid:
    """One loop: ``update(measured, setpoint, now_s) -> output`` in [out_min, out_max]."""

    def __init__(self, kp: float, ki: float, kd: float, *, derivative_filter_s: float,
                 out_min: float = 0.0, out_max: float = 1.0) -> None:
        if out_max <= out_min:
            raise ValueError(f"out_max ({out_max}) must be above out_min ({out_min})")
        if derivative_filter_s < 0:
            raise ValueError(f"derivative_filter_s must be >= 0, got {derivative_filter_s}")
        self.kp = float(kp)
        self.ki = float(ki)
        self.kd = float(kd)
        self.derivative_filter_s = float(derivative_filter_s)
        self.out_min = float(out_min)
        self.out_max = float(out_max)
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next update is treated as the first."""
        self._integral = 0.0  # output units (duty), already multiplied by ki
        self._deriv_per_s = 0.0  # filtered d(measured)/dt
        self._prev_measured: float | None = None
        self._prev_s: float | None = None
        self.output = 0.0

    def set_gains(self, kp: float, ki: float, kd: float) -> None:
        """New gains take effect at the next update; the integral (in duty) carries over."""
        self.kp, self.ki, self.kd = float(kp), float(ki), float(kd)

    @property
    def integral(self) -> float:
        """The integral term's present contribution to the output."""
        return self._integral

    def update(self, measured: float, setpoint: float, now_s: float) -> float:
        if not (math.isfinite(measured) and math.isfinite(setpoint)):
            return 0.0
        dt_s = None if self._prev_s is None else now_s - self._prev_s
        error = setpoint - measured
        p_term = self.kp * error
        if dt_s is None or dt_s < MIN_DT_S:
            if dt_s is None:
                self._prev_measured, self._prev_s = measured, now_s
            self.output = self._clamp(p_term + self._integral - self.kd * self._deriv_per_s)
            return self.output

        raw_deriv = (measured - self._prev_measured) / dt_s
        if self.derivative_filter_s > 0.0:
            self._deriv_per_s += (raw_deriv - self._deriv_per_s) * (1.0 - math.exp(-dt_s / self.derivative_filter_s))
        else:
            self._deriv_per_s = raw_deriv
        d_term = -self.kd * self._deriv_per_s

        step = self.ki * error * dt_s
        candidate = self._integral + step
        unclamped = p_term + candidate + d_term
        winding_up = (unclamped > self.out_max and step > 0.0) or (unclamped < self.out_min and step < 0.0)
        if not winding_up:
            self._integral = min(self.out_max, max(self.out_min, candidate))

        self._prev_measured, self._prev_s = measured, now_s
        self.output = self._clamp(p_term + self._integral + d_term)
        return self.output

    def _clamp(self, value: float) -> float:
        if not math.isfinite(value):  # never pass on an impossible number: rest at 0 (or the nearest limit)
            value = 0.0
        return self.out_max if value > self.out_max else self.out_min if value < self.out_min else value

"""Relay autotune of one heat pad, in the manner of Klipper's PID_CALIBRATE.

The pad is driven bang-bang around the target: full duty until the sensor reaches the target,
off until it falls ``hysteresis_c`` below it. A relay in a loop with a lagging plant settles
into a steady oscillation whose amplitude ``a`` and period ``Tu`` say how the plant answers at
its critical frequency (Åström–Hägglund): the relay's fundamental is ``4·d/π`` with ``d`` half
the duty swing, so the ultimate gain is ``Ku = 4·d / (π·a)``.

Why the switching points sit at and *below* the target (as Klipper does) rather than around
it: the pad touches skin, so tuning never deliberately drives it past the temperature the
technician asked for; the overshoot is only the plant's own lag.

Why not Klipper's Ziegler–Nichols rule (``Kp = 0.6·Ku, Ti = Tu/2, Td = Tu/8``): it is a
quarter-amplitude-decay design, and on the simulated pad it overshoots a 22 → 40 °C warm-up by
about a quarter of a degree even with anti-windup; a heat pad lies on skin, where overshoot is
what a person feels and what the over-temperature trip would see first. Its "no overshoot"
variant (``0.2·Ku``) keeps ``Ti = Tu/2``, and with the proportional part that weak the integral
dominates: it overshoots by more than a degree. The Tyreus–Luyben rule (``Kp = 0.45·Ku,
Ti = 2.2·Tu, Td = Tu/6.3``) was made for lag-dominated plants like this one (a slow surface
behind a lagging sensor): a much slower integral and a modest derivative. It reaches the
target with no measurable overshoot, settles within ±0.2 °C, and stays stable on a pad twice
as slow — whichever of the two pads it was tuned on.

The first peaks are dropped: the initial warm-up from room temperature overshoots more than the
steady oscillation does. The cycles used are reduced with medians, so one disturbed cycle (a
draught, a leg moving) does not set the gains.

While it runs, the tune *is* the pad's control law (``HeatController.set_control``, as Klipper's
``PID_CALIBRATE`` swaps in its ``ControlAutoTune``): it is fed the pad's readings on the same slow
ticks as the PID would be, and ``on_end`` tells whoever waits for it that it is done or failed.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable

#: the rule that turns (Ku, Tu) into gains: Kp = KP_OF_KU·Ku, Ti = TI_OF_TU·Tu, Td = TD_OF_TU·Tu
KP_OF_KU = 0.45  # Tyreus–Luyben
TI_OF_TU = 2.2
TD_OF_TU = 1.0 / 6.3
#: peaks (alternating minimum, maximum) discarded before measuring: start value, warm-up overshoot,
#: the first dip after it
SKIP_PEAKS = 3
#: the tune fails if the sensor goes this far past the target (a relay that cannot turn heat off)
MAX_OVERSHOOT_C = 5.0


class RelayAutotune:
    """``step(temp_c, now_s) -> duty`` until ``done`` (then ``result()``) or ``failed`` (``reason``).

    Also a heat control law (``update``/``finished``), so it can drive a pad in place of its PID."""

    def __init__(self, target_c: float, *, max_duty: float = 1.0, hysteresis_c: float = 0.3,
                 cycles: int = 5, timeout_s: float = 1800.0,
                 on_end: Callable[[RelayAutotune], None] | None = None) -> None:
        if not 0.0 < max_duty <= 1.0:
            raise ValueError(f"max_duty must be in (0, 1], got {max_duty}")
        if hysteresis_c <= 0.0:
            raise ValueError(f"hysteresis_c must be > 0, got {hysteresis_c}")
        if cycles < 1:
            raise ValueError(f"cycles must be >= 1, got {cycles}")
        self.target_c = float(target_c)
        self.max_duty = float(max_duty)
        self.hysteresis_c = float(hysteresis_c)
        self.cycles = int(cycles)
        self.timeout_s = float(timeout_s)
        self.done = False
        self.failed = False
        self.reason: str | None = None
        self._on_end = on_end
        self._started_s: float | None = None
        self._heating = True
        self._peak_c = math.inf  # running minimum while heating, maximum while off
        self._peak_s = 0.0
        #: (temperature, time) of each turning point, alternating min, max, min, ...
        self.peaks: list[tuple[float, float]] = []

    @property
    def finished(self) -> bool:
        """Done or failed: the pad goes back to its own law."""
        return self.done or self.failed

    def update(self, temp_c: float, target_c: float | None, now_s: float) -> float:
        """The control-law face of ``step``: the runner's target is not used, the tune holds its own
        (no session runs while a technician operation does)."""
        return self.step(temp_c, now_s)

    def step(self, temp_c: float, now_s: float) -> float:
        """One sensor reading in, the heater duty out (0 once done or failed)."""
        if self.done or self.failed:
            return 0.0
        if self._started_s is None:
            self._started_s = now_s
        if not math.isfinite(temp_c):
            return self._fail("lost the pad's temperature reading")
        if now_s - self._started_s > self.timeout_s:
            what = "did not reach the target" if len(self.peaks) < 2 else "no steady oscillation"
            return self._fail(f"{what} within {self.timeout_s:g} s ({len(self.peaks)} peaks seen)")
        if temp_c > self.target_c + MAX_OVERSHOOT_C:
            return self._fail(f"{temp_c:.1f} °C is more than {MAX_OVERSHOOT_C:g} °C above the "
                              f"{self.target_c:g} °C target: the heater does not turn off")

        if self._heating and temp_c >= self.target_c:
            self._turn(False, temp_c, now_s)
        elif not self._heating and temp_c <= self.target_c - self.hysteresis_c:
            self._turn(True, temp_c, now_s)
        if self._heating:
            if temp_c < self._peak_c:
                self._peak_c, self._peak_s = temp_c, now_s
        elif temp_c > self._peak_c:
            self._peak_c, self._peak_s = temp_c, now_s

        if len(self.peaks) >= SKIP_PEAKS + 2 * self.cycles + 1:
            self.done = True
            self._ended()
            return 0.0
        return self.max_duty if self._heating else 0.0

    def _turn(self, heating: bool, temp_c: float, now_s: float) -> None:
        if not math.isfinite(self._peak_c):  # switched on the very first reading (pad already warm)
            self._peak_c, self._peak_s = temp_c, now_s
        self.peaks.append((self._peak_c, self._peak_s))
        self._heating = heating
        self._peak_c = math.inf if heating else -math.inf

    def _fail(self, reason: str) -> float:
        self.failed = True
        self.reason = reason
        self._ended()
        return 0.0

    def _ended(self) -> None:
        if self._on_end is not None:
            self._on_end(self)

    def ultimate(self) -> tuple[float, float]:
        """(Ku in duty/°C, Tu in s) from the measured cycles' medians."""
        if not self.done:
            raise RuntimeError("autotune has not finished: " + (self.reason or "still running"))
        used = self.peaks[SKIP_PEAKS:]
        # Amplitude from each neighbouring pair of turning points, period from same-kind peaks.
        amplitudes = [0.5 * abs(b[0] - a[0]) for a, b in zip(used, used[1:])]
        periods = [c[1] - a[1] for a, c in zip(used, used[2:])]
        amplitude_c = statistics.median(amplitudes)
        period_s = statistics.median(periods)
        if amplitude_c <= 0.0 or period_s <= 0.0:
            raise RuntimeError("autotune measured no oscillation")
        relay_d = 0.5 * self.max_duty  # the duty swings ±max/2 about its mean
        return 4.0 * relay_d / (math.pi * amplitude_c), period_s

    def result(self) -> tuple[float, float, float]:
        """(kp, ki, kd) for ``Pid``: duty per °C, per °C·s and per °C/s."""
        ku, tu = self.ultimate()
        kp = KP_OF_KU * ku
        ti_s = TI_OF_TU * tu
        td_s = TD_OF_TU * tu
        return kp, kp / ti_s, kp * td_s

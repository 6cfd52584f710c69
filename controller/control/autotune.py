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
quarter-amplitude-decay design, and its short integral overshoots a warm-up; a heat pad lies on
skin, where overshoot is what a person feels and what the over-temperature trip would see
first. The Tyreus–Luyben rule (``Kp = 0.45·Ku, Ti = 2.2·Tu, Td = Tu/6.3``) never overshoots,
but over the variation envelope it rises up to 1.6x slower than full power on the light,
laggy pads. The rule used here (``Kp = 0.6·Ku, Ti = 1.2·Tu, Td = 0.13·Tu``) was fitted on the
simulated pad over the envelope's thermal corners (mass 0.5/1/3x, power 70/130 %, sensor lag
1/4x, room 15/30 °C), tuned at 38 °C and judged at 38, 40 and 42 °C: every corner overshoots
≤ 0.19 °C, settles within ±0.03 °C and rises within 1.21x its full-power time — the issue's bar
(≤ 0.5 °C, ±0.2 °C, ≤ 1.3x), which the shipped defaults do not meet on every corner; so the
gains a tune gives are at least as good as the defaults on the pad it tuned
(tests/controllers/test_autotune.py).

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

from controller.control.temporary_law import TemporaryLaw

#: the rule that turns (Ku, Tu) into gains: Kp = KP_OF_KU·Ku, Ti = TI_OF_TU·Tu, Td = TD_OF_TU·Tu
KP_OF_KU = 0.6
TI_OF_TU = 1.2
TD_OF_TU = 0.13
#: peaks (alternating minimum, maximum) discarded before measuring: start value, warm-up overshoot,
#: the first dip after it
SKIP_PEAKS = 3
#: the tune fails if the sensor goes this far past the target (a relay that cannot turn heat off)
MAX_OVERSHOOT_C = 5.0

#: Deadlines without a commissioning record: long enough for every pad of the envelope (the
#: slowest, 3x mass at 70 % power from a 15 °C room, needs ~22 min to reach 42 °C at full power;
#: its relay cycles at 38 °C take ~37 min on the simulated pad).
UNCOMMISSIONED_WARMUP_S = 2400.0
UNCOMMISSIONED_OSCILLATION_S = 3600.0
#: With one: the warm-up at the measured steepest rate, WARMUP_MARGIN times over (the rate falls
#: as the pad nears its full-power temperature: up to 1.75x on the envelope's slowest pad); the
#: oscillation OSCILLATION_PER_DEAD_TIME dead times (the envelope's pads need 47-81 on the
#: simulated pad: the relay's period follows the pad's lags, the cooling half its losses).
WARMUP_MARGIN = 3.0
OSCILLATION_PER_DEAD_TIME = 150.0
WARMUP_BOUNDS_S = (300.0, 3000.0)
OSCILLATION_BOUNDS_S = (600.0, 3600.0)  # both together stay inside the socket's 2 h wait


def deadlines_from(rate_c_per_s: float | None, dead_time_s: float | None, start_c: float, target_c: float,
                   start_if_unknown_c: float | None = None) -> tuple[float, float]:
    """(warm-up, oscillation) deadlines in s for a tune toward ``target_c`` from ``start_c``,
    from the pad's commissioned step (``None``: not commissioned)."""
    if rate_c_per_s is None or dead_time_s is None or not rate_c_per_s > 0.0:
        return UNCOMMISSIONED_WARMUP_S, UNCOMMISSIONED_OSCILLATION_S
    from_c = start_c if math.isfinite(start_c) else (start_if_unknown_c if start_if_unknown_c is not None else target_c)
    warmup = WARMUP_MARGIN * (dead_time_s + max(0.0, target_c - from_c) / rate_c_per_s)
    oscillation = OSCILLATION_PER_DEAD_TIME * dead_time_s
    return _within(warmup, WARMUP_BOUNDS_S), _within(oscillation, OSCILLATION_BOUNDS_S)


def _within(value: float, bounds: tuple[float, float]) -> float:
    return min(bounds[1], max(bounds[0], value))


class RelayAutotune(TemporaryLaw):
    """``step(temp_c, now_s) -> duty`` until ``done`` (then ``result()``) or ``failed`` (``reason``).

    Also a heat control law (``update``/``finished``), so it can drive a pad in place of its PID."""

    def __init__(self, target_c: float, *, max_duty: float = 1.0, hysteresis_c: float = 0.3,
                 cycles: int = 5, timeout_s: float = UNCOMMISSIONED_OSCILLATION_S,
                 warmup_timeout_s: float = UNCOMMISSIONED_WARMUP_S,
                 on_end: Callable[[RelayAutotune], None] | None = None) -> None:
        """``warmup_timeout_s``: to reach the target the first time; ``timeout_s``: for the
        cycles, timed from then (the tuning point), not from the start."""
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
        self.warmup_timeout_s = float(warmup_timeout_s)
        super().__init__(on_end)
        self._started_s: float | None = None
        self._start_c = math.nan
        self._reached_s: float | None = None  # first time at the target: the oscillation's clock
        self._heating = True
        self._peak_c = math.inf  # running minimum while heating, maximum while off
        self._peak_s = 0.0
        #: (temperature, time) of each turning point, alternating min, max, min, ...
        self.peaks: list[tuple[float, float]] = []

    def update(self, temp_c: float, target_c: float | None, now_s: float) -> float:
        """The control-law face of ``step``: the runner's target is not used, the tune holds its own
        (no session runs while a technician operation does)."""
        return self.step(temp_c, now_s)

    def step(self, temp_c: float, now_s: float) -> float:
        """One sensor reading in, the heater duty out (0 once done or failed)."""
        if self.done or self.failed:
            return 0.0
        if not math.isfinite(temp_c):
            return self._fail("lost the pad's temperature reading")
        if self._started_s is None:
            self._started_s, self._start_c = now_s, temp_c
        if self._reached_s is None and now_s - self._started_s > self.warmup_timeout_s:
            return self._fail(f"did not reach {self.target_c:g} °C within {self.warmup_timeout_s:g} s at "
                              f"{self.max_duty:.0%} duty (from {self._start_c:.1f} °C, now {temp_c:.1f} °C): "
                              "heater weak for this room, or the pad is not on its sensor")
        if self._reached_s is not None and now_s - self._reached_s > self.timeout_s:
            needed = SKIP_PEAKS + 2 * self.cycles + 1
            return self._fail(f"no steady oscillation within {self.timeout_s:g} s of reaching {self.target_c:g} °C "
                              f"({len(self.peaks)} of {needed} turning points): the pad cools too slowly "
                              "for the relay, or something disturbed it")
        if temp_c > self.target_c + MAX_OVERSHOOT_C:
            return self._fail(f"{temp_c:.1f} °C is more than {MAX_OVERSHOOT_C:g} °C above the "
                              f"{self.target_c:g} °C target: the heater does not turn off")

        if self._heating and temp_c >= self.target_c:
            if self._reached_s is None:
                self._reached_s = now_s
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

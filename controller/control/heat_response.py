"""Commissioning a pad: its heating response to a full-duty step, measured from rest.

The pad is heated at a known duty (the configured maximum) from where it rests until its
thermistor reaches ``stop_c`` — the top of the range the heating check watches (the highest
program target less the check's margin), so the slowest stretch the check will ever judge is
inside the measurement — and then handed back to its PID. From the trace:

- ``rate_c_per_s``: the steepest rise, a least-squares slope over ``SLOPE_WINDOW_S`` (a single
  4 Hz difference would be the ADC's noise);
- ``dead_time_s``: where that steepest tangent meets the starting temperature (the classic
  tangent construction; the element, the film and the sensor's bead together);
- the heating check's record (``PadCommissioning``): a window of ``WINDOW_OF_DEAD_TIME`` dead
  times, lengthened (in ``WINDOW_STEP_S`` steps, within ``WINDOW_BOUNDS_S``) until the pad
  gains at least ``MIN_WINDOW_RISE_C`` in it, and the *least* rise seen over any such window
  of the trace, including the first one from rest (the dead time) and the last one near
  ``stop_c`` (the slowest). A healthy pad never gains less than that at full duty in that
  range; the check asks for half of it, and never less than its 1 °C floor, so the window
  must hold twice that floor or a pad at 80 % duty in a colder room could fail it.

It is a heat control law (``update``/``finished``) so it runs on the same thermal ticks and
through the same gate as the PID it replaces. It fails (``reason``) on a lost reading, on no
rise of ``MIN_RISE_C`` over the last ``NO_RISE_S`` (a dead element or a sensor off its pad: every
pad of the envelope gains more than twice that at full duty up to ``stop_c``), on a
reading past ``stop_c`` + ``MAX_PAST_STOP_C``, or after ``timeout_s``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from controller.control.heat_gains import gains_from_response
from controller.control.temporary_law import TemporaryLaw

SLOPE_WINDOW_S = 8.0
WINDOW_OF_DEAD_TIME = 4.0
WINDOW_BOUNDS_S = (30.0, 180.0)  # the upper bound is the heating check's compiled outer bound
WINDOW_STEP_S = 10.0
MIN_WINDOW_RISE_C = 2.0
MIN_RISE_C = 1.0
NO_RISE_S = 180.0
MAX_PAST_STOP_C = 3.0
#: the step must have room to show its steepest rise and the dead time before it
MIN_SPAN_C = 3.0


@dataclass(frozen=True, slots=True)
class HeatResponse:
    """What one pad's step showed. Temperatures in °C, times in s, rate in °C/s at ``duty``."""

    duty: float
    start_c: float
    rate_c_per_s: float
    dead_time_s: float
    window_s: float
    rise_c: float  # the least rise over any ``window_s`` of the step
    duration_s: float

    def gains(self) -> tuple[float, float, float]:
        return gains_from_response(self.rate_c_per_s, self.dead_time_s, self.duty)


def analyse(trace: list[tuple[float, float]], duty: float) -> HeatResponse:
    """The response of a step at ``duty`` recorded as (time, °C) from the moment it began."""
    if len(trace) < 3:
        raise ValueError("too few readings to measure a heating response")
    t0, start_c = trace[0]
    times = [t - t0 for t, _ in trace]
    temps = [v for _, v in trace]
    rate, at_s, at_c = _steepest(times, temps)
    if rate <= 0.0:
        raise ValueError("the pad did not warm")
    dead_time_s = max(0.0, at_s - (at_c - start_c) / rate)
    low, high = WINDOW_BOUNDS_S
    window_s = min(high, max(low, WINDOW_OF_DEAD_TIME * dead_time_s), times[-1])
    rise_c = _least_rise(times, temps, window_s)
    while rise_c < MIN_WINDOW_RISE_C and window_s < min(high, times[-1]):
        window_s = min(high, times[-1], window_s + WINDOW_STEP_S)
        rise_c = _least_rise(times, temps, window_s)
    return HeatResponse(duty=duty, start_c=start_c, rate_c_per_s=rate, dead_time_s=dead_time_s,
                        window_s=window_s, rise_c=rise_c, duration_s=times[-1])


def _steepest(times: list[float], temps: list[float]) -> tuple[float, float, float]:
    """(slope, mid time, mid temperature) of the steepest least-squares line over SLOPE_WINDOW_S."""
    best = (-math.inf, 0.0, temps[0])
    j = 0
    for i in range(len(times)):
        # j: the latest reading at least SLOPE_WINDOW_S before i (tick spacing need not divide it)
        while j < i and times[i] - times[j + 1] >= SLOPE_WINDOW_S - 1e-9:
            j += 1
        if times[i] - times[j] < SLOPE_WINDOW_S - 1e-9:
            continue
        ts, vs = times[j:i + 1], temps[j:i + 1]
        mt, mv = sum(ts) / len(ts), sum(vs) / len(vs)
        sxx = sum((t - mt) ** 2 for t in ts)
        slope = sum((t - mt) * (v - mv) for t, v in zip(ts, vs)) / sxx
        if slope > best[0]:
            best = (slope, mt, mv)
    return best


def _least_rise(times: list[float], temps: list[float], window_s: float) -> float:
    least = math.inf
    j = 0
    for i in range(len(times)):
        while j < len(times) and times[j] - times[i] < window_s - 1e-9:
            j += 1
        if j == len(times):
            break
        least = min(least, temps[j] - temps[i])
    return least if math.isfinite(least) else temps[-1] - temps[0]


class HeatResponseStep(TemporaryLaw):
    """Full duty until ``stop_c``, as a heat control law; ``response`` once done, ``reason`` if failed."""

    def __init__(self, stop_c: float, *, duty: float, timeout_s: float = 1800.0,
                 on_end: Callable[[HeatResponseStep], None] | None = None) -> None:
        if not 0.0 < duty <= 1.0:
            raise ValueError(f"duty must be in (0, 1], got {duty}")
        self.stop_c = float(stop_c)
        self.duty = float(duty)
        self.timeout_s = float(timeout_s)
        super().__init__(on_end)
        self.response: HeatResponse | None = None
        self.trace: list[tuple[float, float]] = []
        self._window_from = 0  # the reading NO_RISE_S back

    def update(self, temp_c: float, target_c: float | None, now_s: float) -> float:
        if self.finished:
            return 0.0
        if not math.isfinite(temp_c):
            return self._fail("lost the pad's temperature reading")
        if not self.trace and temp_c > self.stop_c - MIN_SPAN_C:
            return self._fail(f"the pad is at {temp_c:.1f} °C: let it cool below "
                              f"{self.stop_c - MIN_SPAN_C:.0f} °C to measure its heating")
        self.trace.append((now_s, temp_c))
        t0, start_c = self.trace[0]
        elapsed = now_s - t0
        if temp_c > self.stop_c + MAX_PAST_STOP_C:
            return self._fail(f"{temp_c:.1f} °C is past the {self.stop_c:g} °C end of the step: "
                              "the heater does not turn off")
        if temp_c >= self.stop_c:
            try:
                self.response = analyse(self.trace, self.duty)
            except ValueError as err:
                return self._fail(str(err))
            self.done = True
            self._ended()
            return 0.0
        if elapsed >= NO_RISE_S:
            # over the last NO_RISE_S: a dead element on a leg still drifts up toward the limb's
            # temperature at first, so the rise since the start would pass it for a while
            while self.trace[self._window_from + 1][0] <= now_s - NO_RISE_S:
                self._window_from += 1
            gained = temp_c - self.trace[self._window_from][1]
            if gained < MIN_RISE_C:
                return self._fail(f"gained {gained:+.1f} °C in the last {NO_RISE_S:g} s at {self.duty:.0%} duty "
                                  f"(at {temp_c:.1f} °C): element open or weak, or the sensor is off the pad")
        if elapsed > self.timeout_s:
            return self._fail(f"did not reach {self.stop_c:g} °C within {self.timeout_s:g} s "
                              f"({temp_c:.1f} °C): heater too weak for this room")
        return self.duty


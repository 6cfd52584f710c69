"""Interlocks: every tick, from the sensor snapshot and what was last written, what is wrong.

``SafetyMonitor.check`` returns the faults present this tick; the supervisor latches them (the
latch ignores a fault already active) and the gate acts on the latched set. The monitor knows
nothing of programs: the little it needs from the rest of the machine (session start, targets,
tick lateness) comes in a ``SafetyContext``. It tracks valve, pump and heater history itself
from ``last_outputs`` — what the gate actually wrote — so a controller cannot hide a valve from
it. Time is the ``now_s`` passed in (the event loop's clock), never the wall clock.

One small class per interlock family; every threshold is a ``SafetyLimits`` field, named in
the class docstring. Windows are measured from the first tick a condition is seen and trip on
the first tick at which it has lasted the full window (``elapsed >= window``); "immediate"
checks trip on the tick they are seen.

What a command wrote last tick is in effect now only if the master relay was closed: an open
relay means no heater, pump or valve power, and an unpowered vent is open (normally-open).
"""

from __future__ import annotations

import math
import struct
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from controller.config import MachineConfig
from controller.faults import Fault, Severity
from controller.limits import SafetyLimits
from controller.outputs import Outputs
from controller.readings import PadReading, Readings

NAN = math.nan
#: Over-temperature clears on acknowledgement only once both sensors are this far below the
#: trip: a pad hovering at the trip must not be re-armed straight back into it.
OVERTEMP_CLEAR_MARGIN_C = 2.0
_NOT_READ = PadReading(NAN, NAN, -math.inf)
_SENSOR_NAMES = ("thermistor", "digital sensor")


@dataclass(frozen=True)
class SafetyContext:
    """What the interlocks need but cannot see in the readings.

    - ``session_started_s``: loop time the running session began, pauses excluded (None: no
      session running);
    - ``heat_targets_c``: each pad's target (None: heat off) for the heating check;
    - ``pressure_targets_mmhg``: each chamber's current fill target for the fill check;
    - ``tick_late_s``: how late this tick started against its schedule.
    """

    session_started_s: float | None = None
    heat_targets_c: Mapping[str, float | None] = field(default_factory=dict)
    pressure_targets_mmhg: Mapping[str, float] = field(default_factory=dict)
    tick_late_s: float = 0.0


# ---------------------------------------------------------------------------------- helpers
class _Names:
    """Zone names as a person says them: "left calf pad", "right foot chamber"."""

    def __init__(self, config: MachineConfig) -> None:
        self._pads = {p.zone: f"{p.leg} {p.position} pad" for p in config.pads}
        self._chambers = {c.zone: f"{c.leg} {c.position} chamber" for c in config.chambers}
        self._rollers = {r.zone: f"{r.leg} {r.position} roller" for r in config.rollers}

    def pad(self, zone: str) -> str:
        return self._pads.get(zone, f"pad {zone}")

    def chamber(self, zone: str) -> str:
        return self._chambers.get(zone, f"chamber {zone}")

    def roller(self, zone: str) -> str:
        return self._rollers.get(zone, f"roller {zone}")

    def error_zone(self, zone: str) -> str:
        """A board error zone ("pad:left_calf", "machine:expander") in words."""
        prefix, _, name = zone.partition(":")
        if prefix == "pad":
            return self.pad(name)
        if prefix == "chamber":
            return self.chamber(name)
        if prefix == "roller":
            return self.roller(name)
        return name or zone


def _c(v: float) -> str:
    return f"{v:.1f} °C" if math.isfinite(v) else ("+inf" if v > 0 else "-inf" if v < 0 else "no value")


def _mmhg(v: float) -> str:
    return f"{v:.1f} mmHg" if math.isfinite(v) else ("+inf" if v > 0 else "-inf" if v < 0 else "no value")


def _g(v: float) -> str:
    """A limit as written in the table: 45, 0.2, 1.5."""
    return f"{v:g}"


def _pad(readings: Readings, zone: str) -> PadReading:
    return readings.pads.get(zone, _NOT_READ)


def _pressure(readings: Readings, zone: str) -> float:
    return readings.pressure_mmhg.get(zone, NAN)


def _plausible_c(v: float, limits: SafetyLimits) -> bool:
    return limits.sensor_min_c <= v <= limits.sensor_max_c  # False for NaN and ±inf


class _Powered:
    """What the last written outputs actually do, given the master relay: with the relay open
    nothing is powered (no heat, no pump, no roller) and every vent is open (normally-open).

    Built once per tick; the checks read its fields in their per-zone loops.
    """

    __slots__ = ("out", "relay", "pumping")

    def __init__(self, out: Outputs) -> None:
        self.out = out
        self.relay = out.relay_closed
        #: the pump is running (filling a chamber also needs its fill valve open)
        self.pumping = bool(self.relay) and out.pump_duty > 0.0


# ---------------------------------------------------------------------------------- heat
class OverTemperature:
    """Either sensor of a pad at or above ``overtemp_trip_c`` (45 °C) trips on the same tick.

    Any reading counts, even an implausible +inf from a shorted thermistor: the code drops the
    relay, and that is the right answer to "this pad might be very hot".
    """

    def __init__(self, config: MachineConfig, names: _Names) -> None:
        self.limits = config.limits
        self.pads = config.pad_names
        self.names = names

    def check(self, readings: Readings, now_s: float) -> list[Fault]:
        trip = self.limits.overtemp_trip_c
        pads = readings.pads
        faults = []
        for pad in self.pads:
            r = pads.get(pad, _NOT_READ)
            if r.temp_c >= trip or r.temp2_c >= trip:
                faults.append(self._fault(pad, r, trip, now_s))
        return faults

    def _fault(self, pad: str, r: PadReading, trip: float, now_s: float) -> Fault:
        hot = [(name, v) for name, v in zip(_SENSOR_NAMES, (r.temp_c, r.temp2_c)) if v >= trip]
        name, v = max(hot, key=lambda nv: nv[1])
        return Fault.make(
            "overtemp", pad, now_s,
            f"{self.names.pad(pad)}: {name} at {_c(v)}, at or above the {_g(trip)} °C "
            "over-temperature trip",
            {"temp_c": r.temp_c, "temp2_c": r.temp2_c, "trip_c": trip})


class TemperaturePlausibility:
    """Sensors that cannot be believed stop the heat before they can mislead the controller.

    - a sensor outside [``sensor_min_c``, ``sensor_max_c``] (0–85 °C; an open thermistor reads
      -inf, a short +inf) → ``temp_sensor_range`` on the tick it is seen;
    - a pad's two plausible sensors more than ``sensor_disagree_c`` (3 °C) apart for
      ``stale_reading_s`` (1 s) → ``temp_sensor_disagree``. The persistence lets one noisy
      sample pass; it is the same second a missing reading is allowed, and 4 thermal samples at
      the default rates. Normal heating cannot trigger it: the sensors' different lags (4 s,
      8 s) at the fastest heating rate (~0.1 °C/s) put them well under 1 °C apart;
    - either sensor not read for ``stale_reading_s`` (1 s) → ``temp_stale``. A pad never read
      since the monitor started is measured from the monitor's first tick (start-up grace).

    Pads are read on thermal ticks only; in between, a pad's reading is the same object tick
    after tick. A tick that found nothing wrong with a reading remembers it (``_quiet``): while
    the reading is the same object, the range and disagreement checks would give the same
    answer (nothing) and the read clocks cannot move, so only the age is checked, and the
    full check runs again as soon as the age reaches the limit (the same tick as before).
    """

    def __init__(self, config: MachineConfig, names: _Names) -> None:
        self.limits = config.limits
        self.pads = config.pad_names
        self.names = names
        self._disagree_since: dict[str, float] = {}  # pad -> first tick its sensors disagreed
        # pad -> when each sensor (thermistor, digital) was last read; None until the pad's
        # first check, which starts its clock (the start-up grace)
        self._last_read: dict[str, list[float | None]] = {p: [None, None] for p in self.pads}
        # pad -> (reading, the older of its sensors' last reads) of a tick that found nothing
        self._quiet: dict[str, tuple[PadReading, float]] = {}

    def check(self, readings: Readings, now_s: float) -> list[Fault]:
        lim = self.limits
        low, high = lim.sensor_min_c, lim.sensor_max_c
        disagree_c, stale_s = lim.sensor_disagree_c, lim.stale_reading_s
        since = self._disagree_since
        isnan = math.isnan
        pads = readings.pads
        faults = []
        for pad in self.pads:
            r = pads.get(pad, _NOT_READ)
            quiet = self._quiet.get(pad)
            if quiet is not None and quiet[0] is r and now_s - quiet[1] < stale_s:
                continue  # the reading found fine before, and neither sensor's age at the limit
            n_faults = len(faults)
            t1, t2 = r.temp_c, r.temp2_c
            if low <= t1 <= high and low <= t2 <= high:  # both believable (False for NaN, ±inf)
                diff = abs(t1 - t2)
                disagree = diff > disagree_c
            else:
                # a NaN is a reading that did not happen: the stale check below speaks for it
                if not (isnan(t1) or low <= t1 <= high) or not (isnan(t2) or low <= t2 <= high):
                    faults.append(self._range_fault(pad, r, now_s))
                diff, disagree = NAN, False

            if disagree:
                held = now_s - since.setdefault(pad, now_s)
                if held >= stale_s:
                    faults.append(self._disagree_fault(pad, r, diff, now_s))
            elif pad in since:
                del since[pad]

            lasts = self._last_read[pad]
            for i, v in enumerate((t1, t2)):
                last = lasts[i]
                if last is None:
                    last = lasts[i] = now_s
                if not isnan(v) and r.t_s > last:
                    last = lasts[i] = r.t_s
                age = now_s - last
                if age >= stale_s:
                    faults.append(self._stale_fault(pad, r, i, age, now_s))
                    break  # one stale fault per pad says enough

            if len(faults) == n_faults and not disagree:
                self._quiet[pad] = (r, min(lasts))
            else:
                self._quiet.pop(pad, None)
        return faults

    def _seen(self, r: PadReading) -> dict:
        return {"temp_c": r.temp_c, "temp2_c": r.temp2_c, "read_t_s": r.t_s}

    def _range_fault(self, pad: str, r: PadReading, now_s: float) -> Fault:
        lim = self.limits
        bad = [(name, v) for name, v in zip(_SENSOR_NAMES, (r.temp_c, r.temp2_c))
               if not math.isnan(v) and not _plausible_c(v, lim)]
        name, v = bad[0]
        why = "open circuit or unplugged?" if v < lim.sensor_min_c else "short circuit?"
        return Fault.make(
            "temp_sensor_range", pad, now_s,
            f"{self.names.pad(pad)}: {name} reads {_c(v)}, outside {_g(lim.sensor_min_c)}–{_g(lim.sensor_max_c)} °C "
            f"({why})", self._seen(r))

    def _disagree_fault(self, pad: str, r: PadReading, diff: float, now_s: float) -> Fault:
        lim = self.limits
        return Fault.make(
            "temp_sensor_disagree", pad, now_s,
            f"{self.names.pad(pad)}: sensors disagree by {diff:.1f} °C (thermistor {_c(r.temp_c)}, digital sensor "
            f"{_c(r.temp2_c)}; allowed {_g(lim.sensor_disagree_c)} °C)",
            {**self._seen(r), "difference_c": diff, "limit_c": lim.sensor_disagree_c})

    def _stale_fault(self, pad: str, r: PadReading, sensor: int, age: float, now_s: float) -> Fault:
        name = _SENSOR_NAMES[sensor]
        return Fault.make(
            "temp_stale", pad, now_s,
            f"{self.names.pad(pad)}: {name} not read for {age:.1f} s (limit {_g(self.limits.stale_reading_s)} s)",
            {**self._seen(r), "sensor": name, "age_s": age})


class HeaterVerification:
    """Does the heat follow the heater? Klipper's verify_heater, for a pad on a leg.

    No gain (``heater_no_gain``, lockout): while the written duty is at least
    ``heating_check_duty`` (0.8; or the configured maximum duty if that is lower, so the check
    cannot be disabled by configuration) and the pad's control sensor is below its target by
    more than ``heating_check_margin_c`` (5 °C), it must gain ``heating_check_gain_c`` (2 °C)
    within ``heating_check_window_s`` (60 s). Each time it does, a new goal is set from there
    (Klipper's goal_temp/goal_systime). Leaving those conditions disarms the check. A detached
    sensor or a broken element fails it.

    Heating while off (``heater_runaway``, lockout, relay off): while the heater is off (duty 0
    written, or the relay open), a rise of ``heating_off_rise_c`` (2 °C) within any
    ``heating_off_window_s`` (30 s) trips. The rise is measured from the *minimum* seen in the
    window, counting only samples taken while the heater was off, and both plausible sensors
    must show it (a stuck MOSFET warms the whole pad; one sensor alone is a sensor problem,
    which the disagreement check catches). Why from the minimum rather than after a settling
    delay: the heat stored in the element after switch-off lifts the surface by a bounded
    ~1 °C (simulated pad: 0.8 °C after a full-power warm-up), below the 2 °C limit, so no
    settling delay is needed and a stuck switch is caught as soon as it has raised the pad
    2 °C; the over-temperature trip remains the backstop.
    """

    def __init__(self, config: MachineConfig, names: _Names) -> None:
        self.limits = config.limits
        self.pads = config.pad_names
        self.names = names
        self.check_duty = min(config.limits.heating_check_duty, config.heat.max_duty)
        self._goal: dict[str, tuple[float, float, float, float]] = {}  # pad -> goal_c, goal_t, from_c, from_t
        self._off_lows = {p: (_WindowLow(), _WindowLow()) for p in self.pads}  # thermistor, digital
        self._last_sample_t: dict[str, float] = {}
        # pad -> when its heater went off. Its window lows hold samples only while it is here:
        # both are set in the heater-off branch and cleared together when the heater comes on.
        self._off_since: dict[str, float] = {}

    def check(self, readings: Readings, powered: _Powered, ctx: SafetyContext, now_s: float) -> list[Fault]:
        faults = []
        relay = powered.relay
        duties = powered.out.heater_duty
        targets = ctx.heat_targets_c
        check_duty = self.check_duty
        pads = readings.pads
        for pad in self.pads:
            r = pads.get(pad, _NOT_READ)
            duty = duties.get(pad, 0.0) if relay else 0.0
            target = targets.get(pad)
            # no gain: only armed at high duty toward a target (or to disarm an armed check)
            if (target is not None and duty >= check_duty) or pad in self._goal:
                fault = self._no_gain(pad, r, duty, target, now_s)
                if fault:
                    faults.append(fault)
            # heating while off
            if duty > 0.0:
                if pad in self._off_since:  # the heater came on: forget the off-window
                    for low in self._off_lows[pad]:
                        low.clear()
                    del self._off_since[pad]
            else:
                fault = self._runaway(pad, r, now_s)
                if fault:
                    faults.append(fault)
        return faults

    def _no_gain(self, pad: str, r: PadReading, duty: float, target: float | None, now_s: float) -> Fault | None:
        lim = self.limits
        temp = r.temp_c
        watching = (target is not None and duty >= self.check_duty and _plausible_c(temp, lim)
                    and temp < target - lim.heating_check_margin_c)
        if not watching:
            self._goal.pop(pad, None)
            return None
        goal = self._goal.get(pad)
        if goal is None or temp >= goal[0]:
            self._goal[pad] = (temp + lim.heating_check_gain_c, now_s + lim.heating_check_window_s, temp, now_s)
            return None
        goal_c, goal_t, from_c, from_t = goal
        if now_s < goal_t:
            return None
        return Fault.make(
            "heater_no_gain", pad, now_s,
            f"{self.names.pad(pad)}: heating at {duty:.0%} for {now_s - from_t:.0f} s but warmed only "
            f"{temp - from_c:.1f} °C (at least {_g(lim.heating_check_gain_c)} °C expected): "
            "temperature sensor off the pad, or heating element broken",
            {"temp_c": temp, "temp2_c": r.temp2_c, "start_c": from_c, "duty": duty, "target_c": target,
             "window_s": lim.heating_check_window_s})

    def _runaway(self, pad: str, r: PadReading, now_s: float) -> Fault | None:
        """The heater is off (duty 0 written, or the relay open)."""
        lim = self.limits
        lows = self._off_lows[pad]
        off_since = self._off_since.setdefault(pad, now_s)
        if r.t_s > self._last_sample_t.get(pad, -math.inf):
            self._last_sample_t[pad] = r.t_s
            for low, v in zip(lows, (r.temp_c, r.temp2_c)):
                low.add(r.t_s, v if _plausible_c(v, lim) else NAN)
        cutoff = now_s - lim.heating_off_window_s
        thermistor, digital = lows[0].rise_since(cutoff), lows[1].rise_since(cutoff)
        if thermistor is None or digital is None:
            if thermistor is None and digital is None:
                return None
            rise, over_s = thermistor or digital
        else:
            rise, over_s = min(thermistor, digital)  # both sensors must show the rise
        if rise < lim.heating_off_rise_c:
            return self._hot_while_off(pad, r, now_s - off_since)
        return Fault.make(
            "heater_runaway", pad, now_s,
            f"{self.names.pad(pad)}: warmed {rise:.1f} °C in {over_s:.0f} s with its heater off "
            f"(limit {_g(lim.heating_off_rise_c)} °C in {_g(lim.heating_off_window_s)} s): heater switch stuck on?",
            {"temp_c": r.temp_c, "temp2_c": r.temp2_c, "rise_c": rise, "over_s": over_s})

    def _hot_while_off(self, pad: str, r: PadReading, off_for_s: float) -> Fault | None:
        """Over the trip temperature after the heater has been off a whole window: a stuck switch.

        A slow stuck-on heater near the target (the PID already at 0) can creep up just under
        2 °C per 30 s; the over-temperature trip catches it, but as a stop fault a user could
        acknowledge it and the relay would feed the stuck switch again. A pad cannot reach the
        trip by itself with its heater off for ``heating_off_window_s``: that is a lockout.
        """
        lim = self.limits
        trip = lim.overtemp_trip_c
        if off_for_s < lim.heating_off_window_s or not (r.temp_c >= trip or r.temp2_c >= trip):
            return None
        hot = [v for v in (r.temp_c, r.temp2_c) if _plausible_c(v, lim) and v >= trip]
        if not hot:
            return None
        return Fault.make(
            "heater_runaway", pad, r.t_s,
            f"{self.names.pad(pad)}: {max(hot):.1f} °C, over the {_g(lim.overtemp_trip_c)} °C trip with its heater "
            f"off for {off_for_s:.0f} s: heater switch stuck on?",
            {"temp_c": r.temp_c, "temp2_c": r.temp2_c, "off_for_s": off_for_s})


class _WindowLow:
    """The lowest value over a sliding time window, in O(1) per sample (monotonic deque).

    ``latest`` is the newest sample if it was a real value (NaN samples mark "no value now").
    """

    def __init__(self) -> None:
        self._rising: deque[tuple[float, float]] = deque()  # values increase front to back
        self.latest: tuple[float, float] | None = None

    def add(self, t_s: float, value: float) -> None:
        if math.isnan(value):
            self.latest = None
            return
        while self._rising and self._rising[-1][1] >= value:
            self._rising.pop()
        self._rising.append((t_s, value))
        self.latest = (t_s, value)

    def rise_since(self, t_s: float) -> tuple[float, float] | None:
        """Forget samples before ``t_s``; then (rise, seconds) from the window's lowest sample to
        the latest one, or None if there is no latest real value."""
        rising = self._rising
        while rising and rising[0][0] < t_s:
            rising.popleft()
        latest = self.latest
        if latest is not None and latest[0] < t_s:
            latest = self.latest = None
        if latest is None or not rising:
            return None
        t_low, v_low = rising[0]
        return latest[1] - v_low, latest[0] - t_low

    def clear(self) -> None:
        self._rising.clear()
        self.latest = None


# ---------------------------------------------------------------------------------- pressure
class PressureLimits:
    """The pressure a chamber may show, and whether its sensor can be believed.

    - at or above ``overpressure_trip_mmhg`` (150 mmHg) → ``overpressure`` on the same tick
      (the gate vents every chamber and drops the relay in the same tick's write);
    - below ``pressure_min_plausible_mmhg`` (-20 mmHg) or not read (NaN) for ``stale_reading_s``
      (1 s) → ``pressure_sensor_range``. One bad sample is allowed; a second of them is not.
    """

    def __init__(self, config: MachineConfig, names: _Names) -> None:
        self.limits = config.limits
        self.chambers = config.chamber_names
        self.names = names
        self._last_valid: dict[str, float] = {}

    def check(self, readings: Readings, now_s: float) -> list[Fault]:
        lim = self.limits
        trip, plausible_from, stale_s = lim.overpressure_trip_mmhg, lim.pressure_min_plausible_mmhg, lim.stale_reading_s
        pressures = readings.pressure_mmhg
        last_valid = self._last_valid
        faults = []
        for ch in self.chambers:
            p = pressures.get(ch, NAN)
            if p >= trip:
                faults.append(Fault.make(
                    "overpressure", ch, now_s,
                    f"{self.names.chamber(ch)}: {_mmhg(p)}, at or above the {_g(trip)} mmHg over-pressure trip",
                    {"pressure_mmhg": p, "trip_mmhg": trip}))
            if p >= plausible_from:  # False for NaN
                last = last_valid[ch] = now_s
            else:
                last = last_valid.setdefault(ch, now_s)  # never valid: timed from the first tick
            age = now_s - last
            if age >= stale_s:
                what = (f"pressure not read for {age:.1f} s" if math.isnan(p) else
                        f"pressure sensor reads {_mmhg(p)}, below the plausible "
                        f"{_g(plausible_from)} mmHg for {age:.1f} s (sensor unplugged or broken?)")
                faults.append(Fault.make("pressure_sensor_range", ch, now_s, f"{self.names.chamber(ch)}: {what}",
                                         {"pressure_mmhg": p, "age_s": age}))
        return faults


class _VentEpisode:
    __slots__ = ("start_s", "start_mmhg", "emptied")

    def __init__(self, now_s: float) -> None:
        self.start_s = now_s
        self.start_mmhg = NAN
        self.emptied = False


class ValveChecks:
    """Do the valves and the pump do what the gate wrote? Tracked from ``last_outputs``.

    - vent (``vent_failure``, lockout, relay off): vent open and fill closed for
      ``vent_window_s`` (5 s) and still at or above ``vent_below_mmhg`` (10 mmHg). Only a
      venting that began at or above ``vent_below_mmhg`` is judged; once it dips below, this
      venting has passed;
    - fill (``fill_failure``): fill open with the pump running for ``fill_timeout_s`` (20 s)
      without once reaching half the chamber's target;
    - hold (``hold_too_long``): vent closed with the chamber at or above ``vent_below_mmhg``
      for ``max_hold_s`` (60 s): no tourniquet. A missing reading does not end a hold;
    - frozen sensor (``pressure_sensor_frozen``): a reading bit-identical for
      ``pressure_frozen_window_s`` (3 s) while air is moving (fill open with the pump running,
      or vent open above ``vent_below_mmhg``): real sensors always show noise and flow.

    Each check keeps state only while its valve condition holds: ``check`` forgets it the
    tick the condition ends, and calls the check only while there is something to judge.
    """

    def __init__(self, config: MachineConfig, names: _Names) -> None:
        self.limits = config.limits
        self.chambers = config.chamber_names
        self.names = names
        self._vent: dict[str, _VentEpisode] = {}
        self._fill_attempt: dict[str, float] = {}  # chamber -> when this fill attempt began
        self._fill_reached: set[str] = set()
        self._hold: dict[str, float] = {}
        self._frozen: dict[str, tuple[float, float]] = {}  # chamber -> value, since

    def check(self, readings: Readings, powered: _Powered, ctx: SafetyContext, now_s: float) -> list[Fault]:
        relay, pumping = powered.relay, powered.pumping
        fills, vents = powered.out.fill_open, powered.out.vent_open
        targets = ctx.pressure_targets_mmhg
        pressures = readings.pressure_mmhg
        vent_below = self.limits.vent_below_mmhg
        faults = []
        for ch in self.chambers:
            p = pressures.get(ch, NAN)
            # what the valves do: with the relay open every valve is unpowered (vents open)
            fill_open = relay and fills.get(ch, False)
            vent_open = (not relay) or vents.get(ch, True)
            filling = fill_open and pumping  # air is going in
            venting = vent_open and not fill_open  # air may go out

            if venting:
                episode = self._vent.get(ch)
                if episode is None or not episode.emptied:  # once below, this venting has passed
                    fault = self._vent_check(ch, p, now_s)
                    if fault is not None:
                        faults.append(fault)
            elif ch in self._vent:
                del self._vent[ch]

            if filling or ch in self._fill_attempt:
                fault = self._fill_check(ch, p, filling, vent_open, targets.get(ch), now_s)
                if fault is not None:
                    faults.append(fault)

            if not vent_open:
                fault = self._hold_check(ch, p, now_s)
                if fault is not None:
                    faults.append(fault)
            elif ch in self._hold:
                del self._hold[ch]

            if (filling or (venting and p > vent_below)) and not math.isnan(p):  # air is moving
                fault = self._frozen_check(ch, p, filling, now_s)
                if fault is not None:
                    faults.append(fault)
            elif ch in self._frozen:
                del self._frozen[ch]
        return faults

    def _vent_check(self, ch: str, p: float, now_s: float) -> Fault | None:
        """The vent is open and the fill closed (an episode not yet emptied)."""
        lim = self.limits
        ep = self._vent.get(ch)
        if ep is None:
            ep = self._vent[ch] = _VentEpisode(now_s)
        if math.isnan(ep.start_mmhg) and not math.isnan(p):
            ep.start_mmhg = p
        if p < lim.vent_below_mmhg:
            ep.emptied = True
        elapsed = now_s - ep.start_s
        if ep.emptied or not ep.start_mmhg >= lim.vent_below_mmhg or elapsed < lim.vent_window_s:
            return None
        if not p >= lim.vent_below_mmhg:  # NaN: the range check speaks for it
            return None
        frozen = " (the reading has not changed at all: the sensor may be frozen)" if p == ep.start_mmhg else ""
        return Fault.make(
            "vent_failure", ch, now_s,
            f"{self.names.chamber(ch)}: still {_mmhg(p)} {elapsed:.1f} s after venting began at "
            f"{_mmhg(ep.start_mmhg)} (must be below {_g(lim.vent_below_mmhg)} mmHg within "
            f"{_g(lim.vent_window_s)} s): vent valve stuck closed?{frozen}",
            {"pressure_mmhg": p, "start_mmhg": ep.start_mmhg, "elapsed_s": elapsed})

    def _fill_check(self, ch: str, p: float, filling: bool, vent_open: bool, target: float | None,
                    now_s: float) -> Fault | None:
        """One fill attempt runs from the first tick its fill valve opens (pump on, a target set)
        until the chamber vents or the target goes away; brief valve closures inside it (top-ups,
        the pump shared with the other leg) do not restart the clock."""
        lim = self.limits
        filling = filling and target is not None and target > 0.0
        attempt = self._fill_attempt.get(ch)
        if attempt is not None and (vent_open or not target):
            del self._fill_attempt[ch]
            attempt = None
            self._fill_reached.discard(ch)
        if attempt is None:
            if not filling:
                return None
            attempt = self._fill_attempt[ch] = now_s
        held = now_s - attempt
        if p >= target / 2.0:
            self._fill_reached.add(ch)
        if ch in self._fill_reached or held < lim.fill_timeout_s:
            return None
        return Fault.make(
            "fill_failure", ch, now_s,
            f"{self.names.chamber(ch)}: only {_mmhg(p)} after {held:.1f} s of filling toward {_mmhg(target)} "
            f"(half, {_mmhg(target / 2.0)}, is due within {_g(lim.fill_timeout_s)} s): leak or pump failure?",
            {"pressure_mmhg": p, "target_mmhg": target, "elapsed_s": held})

    def _hold_check(self, ch: str, p: float, now_s: float) -> Fault | None:
        """The vent is closed."""
        lim = self.limits
        holding = p >= lim.vent_below_mmhg or (math.isnan(p) and ch in self._hold)
        if not holding:
            self._hold.pop(ch, None)
            return None
        held = now_s - self._hold.setdefault(ch, now_s)
        if held < lim.max_hold_s:
            return None
        return Fault.make(
            "hold_too_long", ch, now_s,
            f"{self.names.chamber(ch)}: held closed at {_mmhg(p)} for {held:.1f} s "
            f"(limit {_g(lim.max_hold_s)} s: no tourniquet)",
            {"pressure_mmhg": p, "held_s": held})

    def _frozen_check(self, ch: str, p: float, filling: bool, now_s: float) -> Fault | None:
        """Air is moving (``filling``, or venting above ``vent_below_mmhg``); ``p`` is a number."""
        lim = self.limits
        value, since = self._frozen.get(ch, (NAN, now_s))
        if p != value or _bits(p) != _bits(value):  # bits only when equal: 0.0 and -0.0 differ
            self._frozen[ch] = (p, now_s)
            return None
        held = now_s - since
        if held < lim.pressure_frozen_window_s:
            return None
        moving = "the fill valve open and the pump running" if filling else "the vent open"
        return Fault.make(
            "pressure_sensor_frozen", ch, now_s,
            f"{self.names.chamber(ch)}: pressure reading stuck at exactly {_mmhg(p)} for {held:.1f} s with "
            f"{moving}: pressure sensor frozen, or no air getting through?",
            {"pressure_mmhg": p, "unchanged_s": held})


def _bits(v: float) -> bytes:
    """The exact bits: a frozen sensor repeats its value to the last bit."""
    return struct.pack("<d", v)


# ---------------------------------------------------------------------------------- rollers
class RollerCurrent:
    """Jams and stalls, from the roller's current (INA219), each held ``roller_overcurrent_s``
    (200 ms; start-up inrush and soft reversals are shorter) → ``roller_overcurrent``:

    - over ``roller_current_limit_a`` (1.5 A) at any duty: a hard jam at high speed;
    - at or above ``roller_stall_ratio`` (0.8) of the motor's stall current *at the written
      duty* (``board.roller_stall_current_a`` × |duty|, duty ≥ 0.15): a DC motor's current at a
      given PWM duty rises toward stall current × duty as it slows, so a roller stalled at half
      speed draws well under the absolute limit but is still caught.
    """

    MIN_DUTY = 0.15  # below this the stall current is too small to tell from a free motor

    def __init__(self, config: MachineConfig, names: _Names) -> None:
        self.limits = config.limits
        self.stall_a = config.board.roller_stall_current_a
        self.rollers = config.roller_names
        self.names = names
        self._over: dict[str, float] = {}  # roller -> first tick of its present over-current

    def check(self, readings: Readings, powered: _Powered, now_s: float) -> list[Fault]:
        lim = self.limits
        limit_a, hold_s = lim.roller_current_limit_a, lim.roller_overcurrent_s
        stall_ratio_a = lim.roller_stall_ratio * self.stall_a  # × duty: the stall limit in A
        relay, speeds = powered.relay, powered.out.roller_speed
        currents = readings.roller_current_a
        since = self._over
        faults = []
        for roller in self.rollers:
            amps = abs(currents.get(roller, NAN))
            duty = abs(speeds.get(roller, 0.0)) if relay else 0.0
            stalled = duty >= self.MIN_DUTY and amps >= stall_ratio_a * duty
            if not (amps > limit_a or stalled):
                if roller in since:
                    del since[roller]
                continue
            held = now_s - since.setdefault(roller, now_s)
            if held >= hold_s:
                if amps > limit_a:
                    why = f"over the {_g(limit_a)} A limit"
                else:
                    why = f"{amps / (self.stall_a * duty):.0%} of stall current at {duty:.0%} duty"
                faults.append(Fault.make(
                    "roller_overcurrent", roller, now_s,
                    f"{self.names.roller(roller)}: drawing {amps:.2f} A, {why} for {held:.2f} s: jammed or stalled?",
                    {"current_a": amps, "duty": duty, "limit_a": limit_a, "held_s": held}))
        return faults


# ---------------------------------------------------------------------------------- machine
class MachineChecks:
    """The whole machine.

    - ``estop``: the emergency-stop circuit is open, on the tick it is seen;
    - ``session_too_long``: a session running past ``max_session_s`` (30 min). It trips one
      tick period after the limit, so a program of exactly the limit ends normally on the
      runner's tick (which comes after this check); this is the backstop if it does not;
    - ``tick_late``: a tick that started more than ``tick_late_periods`` (3) periods late.
    """

    def __init__(self, config: MachineConfig) -> None:
        self.limits = config.limits
        self.period_s = config.rates.period_s

    def check(self, readings: Readings, ctx: SafetyContext, now_s: float) -> list[Fault]:
        lim = self.limits
        faults = []
        if readings.estop_tripped:
            faults.append(Fault.make("estop", None, now_s, "emergency stop pressed (or its circuit is open)",
                                     {"estop_tripped": True}))
        if ctx.session_started_s is not None:
            ran = now_s - ctx.session_started_s
            if ran >= lim.max_session_s + self.period_s:
                faults.append(Fault.make(
                    "session_too_long", None, now_s,
                    f"session ran {ran / 60:.1f} min, past the {_g(lim.max_session_s / 60)} min limit: ending it",
                    {"session_s": ran, "limit_s": lim.max_session_s}))
        late_limit = lim.tick_late_periods * self.period_s
        if ctx.tick_late_s > late_limit:
            faults.append(Fault.make(
                "tick_late", None, now_s,
                f"control loop ran {ctx.tick_late_s * 1000:.0f} ms late (limit {late_limit * 1000:.0f} ms, "
                f"{_g(lim.tick_late_periods)} periods): blocked I/O?",
                {"late_s": ctx.tick_late_s, "limit_s": late_limit}))
        return faults


class ChipErrors:
    """A chip that keeps failing (``chip_error``, family from the zone: "pad:…" is heat).

    One failed transfer is a glitch and raises nothing (the value is NaN for a tick, the other
    checks see that); an error on every read of a zone for ``stale_reading_s`` (1 s) is a chip
    that is gone. Pads are read only on thermal ticks, so a pad zone's run of errors ends only
    on a thermal tick that read it cleanly. The message quotes the driver's error, which names
    the chip, its address and the bus.
    """

    def __init__(self, config: MachineConfig, names: _Names) -> None:
        self.limits = config.limits
        self.names = names
        self._since: dict[str, float] = {}
        self._text: dict[str, str] = {}

    def check(self, readings: Readings, now_s: float) -> list[Fault]:
        if not readings.errors and not self._since:
            return []  # no error now and no run of them to end: nothing to do
        errors: dict[str, list[str]] = {}
        for i, text in enumerate(readings.errors):
            zone = readings.error_zones[i] if i < len(readings.error_zones) else "machine:unknown"
            errors.setdefault(zone, []).append(text)
        for zone in list(self._since):
            read_this_tick = readings.thermal_fresh or not zone.startswith("pad:")
            if zone not in errors and read_this_tick:
                del self._since[zone]
                self._text.pop(zone, None)
        for zone, texts in errors.items():
            self._since.setdefault(zone, now_s)
            self._text[zone] = "; ".join(dict.fromkeys(texts))
        faults = []
        for zone, since in self._since.items():
            held = now_s - since
            if held >= self.limits.stale_reading_s:
                faults.append(Fault.make(
                    "chip_error", zone, now_s,
                    f"{self.names.error_zone(zone)}: chip failing for {held:.1f} s — {self._text[zone]}",
                    {"error": self._text[zone], "failing_s": held}))
        return faults


# ---------------------------------------------------------------------------------- the monitor
class SafetyMonitor:
    """All interlocks, checked every tick before anything is written."""

    def __init__(self, config: MachineConfig) -> None:
        self.config = config
        self.limits = config.limits
        names = _Names(config)
        self.overtemp = OverTemperature(config, names)
        self.plausibility = TemperaturePlausibility(config, names)
        self.heaters = HeaterVerification(config, names)
        self.pressure = PressureLimits(config, names)
        self.valves = ValveChecks(config, names)
        self.rollers = RollerCurrent(config, names)
        self.machine = MachineChecks(config)
        self.chips = ChipErrors(config, names)

    def check(self, readings: Readings, last_outputs: Outputs | None, now_s: float,
              context: SafetyContext | None = None) -> list[Fault]:
        """The faults present this tick (a fault already latched comes back while it lasts)."""
        ctx = context if context is not None else SafetyContext()
        cfg = self.config
        out = last_outputs if last_outputs is not None else Outputs.safe(cfg.pad_names, cfg.chamber_names,
                                                                          cfg.roller_names)
        powered = _Powered(out)
        faults = self.machine.check(readings, ctx, now_s)
        faults += self.overtemp.check(readings, now_s)
        faults += self.plausibility.check(readings, now_s)
        faults += self.heaters.check(readings, powered, ctx, now_s)
        faults += self.pressure.check(readings, now_s)
        faults += self.valves.check(readings, powered, ctx, now_s)
        faults += self.rollers.check(readings, powered, now_s)
        faults += self.chips.check(readings, now_s)
        return faults

    # ------------------------------------------------------------------ acknowledgement
    def cause_gone(self, fault: Fault, readings: Readings, now_s: float) -> bool:
        """May this stop fault be cleared by an acknowledgement, judging from fresh readings?

        Lockouts never (a technician resets them). Unknown codes never.
        """
        lim = self.limits
        code, zone = fault.code, fault.zone
        if Severity.LOCKOUT in (fault.severity, fault.spec.severity):
            return False
        if code == "estop":
            return not readings.estop_tripped
        if code in ("session_too_long", "tick_late"):
            return True  # events, not states: the session has ended, the late tick has passed
        if code in ("overtemp", "temp_sensor_range", "temp_sensor_disagree", "temp_stale"):
            r = _pad(readings, zone or "")
            values = (r.temp_c, r.temp2_c)
            fresh = now_s - r.t_s < lim.stale_reading_s
            plausible = fresh and all(_plausible_c(v, lim) for v in values)
            if code == "overtemp":
                return plausible and all(v < lim.overtemp_trip_c - OVERTEMP_CLEAR_MARGIN_C for v in values)
            if code == "temp_sensor_disagree":
                return plausible and abs(values[0] - values[1]) <= lim.sensor_disagree_c
            return plausible
        if fault.family == "pressure" and code != "chip_error":
            return self._chambers_empty(readings)
        if code == "roller_overcurrent":
            return abs(readings.roller_current_a.get(zone or "", NAN)) <= lim.roller_current_limit_a
        if code == "chip_error":
            return self._zone_reads_cleanly(zone or "", readings, now_s)
        return False

    def _chambers_empty(self, readings: Readings) -> bool:
        """Every chamber reads a believable pressure below ``vent_below_mmhg``."""
        lim = self.limits
        return all(lim.pressure_min_plausible_mmhg <= _pressure(readings, ch) < lim.vent_below_mmhg
                   for ch in self.config.chamber_names)

    def _zone_reads_cleanly(self, zone: str, readings: Readings, now_s: float) -> bool:
        if zone in readings.error_zones:
            return False
        prefix, _, name = zone.partition(":")
        if prefix == "pad":
            r = _pad(readings, name)
            return now_s - r.t_s < self.limits.stale_reading_s and not any(math.isnan(v) for v in (r.temp_c, r.temp2_c))
        if prefix == "chamber":
            return not math.isnan(_pressure(readings, name))
        if prefix == "roller":
            return not math.isnan(readings.roller_current_a.get(name, NAN))
        return True

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


class _Since:
    """When each condition started holding; forgets it the moment the condition stops."""

    def __init__(self) -> None:
        self._since: dict = {}

    def held_for(self, key, holding: bool, now_s: float) -> float | None:
        """Seconds the condition has held (0 on its first tick), or None if it does not hold."""
        if not holding:
            self._since.pop(key, None)
            return None
        start = self._since.setdefault(key, now_s)
        return now_s - start


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


@dataclass(frozen=True)
class _Powered:
    """What the last written outputs actually do, given the master relay."""

    out: Outputs

    @property
    def relay(self) -> bool:
        return self.out.relay_closed

    def heater_duty(self, pad: str) -> float:
        return self.out.heater_duty.get(pad, 0.0) if self.relay else 0.0

    def filling(self, chamber: str) -> bool:
        """Fill valve open with the pump running: air is going in."""
        return self.relay and self.out.fill_open.get(chamber, False) and self.out.pump_duty > 0.0

    def fill_open(self, chamber: str) -> bool:
        return self.relay and self.out.fill_open.get(chamber, False)

    def vent_open(self, chamber: str) -> bool:
        return (not self.relay) or self.out.vent_open.get(chamber, True)

    def roller_duty(self, roller: str) -> float:
        return abs(self.out.roller_speed.get(roller, 0.0)) if self.relay else 0.0


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
        faults = []
        for pad in self.pads:
            r = _pad(readings, pad)
            hot = [(name, v) for name, v in zip(_SENSOR_NAMES, (r.temp_c, r.temp2_c)) if v >= trip]
            if hot:
                name, v = max(hot, key=lambda nv: nv[1])
                faults.append(Fault.make(
                    "overtemp", pad, now_s,
                    f"{self.names.pad(pad)}: {name} at {_c(v)}, at or above the {_g(trip)} °C "
                    "over-temperature trip",
                    {"temp_c": r.temp_c, "temp2_c": r.temp2_c, "trip_c": trip}))
        return faults


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
    """

    def __init__(self, config: MachineConfig, names: _Names) -> None:
        self.limits = config.limits
        self.pads = config.pad_names
        self.names = names
        self._disagree = _Since()
        self._last_read: dict[tuple[str, int], float] = {}

    def check(self, readings: Readings, now_s: float) -> list[Fault]:
        lim = self.limits
        faults = []
        for pad in self.pads:
            r = _pad(readings, pad)
            values = (r.temp_c, r.temp2_c)
            label = self.names.pad(pad)
            seen = {"temp_c": r.temp_c, "temp2_c": r.temp2_c, "read_t_s": r.t_s}

            bad = [(name, v) for name, v in zip(_SENSOR_NAMES, values) if not math.isnan(v) and not _plausible_c(v, lim)]
            if bad:
                name, v = bad[0]
                why = "open circuit or unplugged?" if v < lim.sensor_min_c else "short circuit?"
                faults.append(Fault.make(
                    "temp_sensor_range", pad, now_s,
                    f"{label}: {name} reads {_c(v)}, outside {_g(lim.sensor_min_c)}–{_g(lim.sensor_max_c)} °C "
                    f"({why})", seen))

            both = all(_plausible_c(v, lim) for v in values)
            diff = abs(values[0] - values[1]) if both else NAN
            held = self._disagree.held_for(pad, both and diff > lim.sensor_disagree_c, now_s)
            if held is not None and held >= lim.stale_reading_s:
                faults.append(Fault.make(
                    "temp_sensor_disagree", pad, now_s,
                    f"{label}: sensors disagree by {diff:.1f} °C (thermistor {_c(values[0])}, digital sensor "
                    f"{_c(values[1])}; allowed {_g(lim.sensor_disagree_c)} °C)",
                    {**seen, "difference_c": diff, "limit_c": lim.sensor_disagree_c}))

            for i, (name, v) in enumerate(zip(_SENSOR_NAMES, values)):
                key = (pad, i)
                last = self._last_read.setdefault(key, now_s)
                if not math.isnan(v) and r.t_s > last:
                    last = self._last_read[key] = r.t_s
                age = now_s - last
                if age >= lim.stale_reading_s:
                    faults.append(Fault.make(
                        "temp_stale", pad, now_s,
                        f"{label}: {name} not read for {age:.1f} s (limit {_g(lim.stale_reading_s)} s)",
                        {**seen, "sensor": name, "age_s": age}))
                    break  # one stale fault per pad says enough
        return faults


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
        self._off_since: dict[str, float] = {}

    def check(self, readings: Readings, powered: _Powered, ctx: SafetyContext, now_s: float) -> list[Fault]:
        faults = []
        for pad in self.pads:
            r = _pad(readings, pad)
            duty = powered.heater_duty(pad)
            fault = self._no_gain(pad, r, duty, ctx.heat_targets_c.get(pad), now_s)
            if fault:
                faults.append(fault)
            fault = self._runaway(pad, r, duty, now_s)
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

    def _runaway(self, pad: str, r: PadReading, duty: float, now_s: float) -> Fault | None:
        lim = self.limits
        lows = self._off_lows[pad]
        if duty > 0.0:
            for low in lows:
                low.clear()
            self._off_since.pop(pad, None)
            return None
        off_since = self._off_since.setdefault(pad, now_s)
        if r.t_s > self._last_sample_t.get(pad, -math.inf):
            self._last_sample_t[pad] = r.t_s
            for low, v in zip(lows, (r.temp_c, r.temp2_c)):
                low.add(r.t_s, v if _plausible_c(v, lim) else NAN)
        rises = []
        for low in lows:
            low.forget_before(now_s - lim.heating_off_window_s)
            if low.latest is not None and low.lowest is not None:
                (t_low, v_low), (t_now, v_now) = low.lowest, low.latest
                rises.append((v_now - v_low, t_now - t_low))
        if not rises:
            return None
        rise, over_s = min(rises)
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
        if off_for_s < lim.heating_off_window_s:
            return None
        hot = [v for v in (r.temp_c, r.temp2_c) if _plausible_c(v, lim) and v >= lim.overtemp_trip_c]
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

    def forget_before(self, t_s: float) -> None:
        while self._rising and self._rising[0][0] < t_s:
            self._rising.popleft()
        if self.latest is not None and self.latest[0] < t_s:
            self.latest = None

    @property
    def lowest(self) -> tuple[float, float] | None:
        return self._rising[0] if self._rising else None

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
        faults = []
        for ch in self.chambers:
            p = _pressure(readings, ch)
            label = self.names.chamber(ch)
            if p >= lim.overpressure_trip_mmhg:
                faults.append(Fault.make(
                    "overpressure", ch, now_s,
                    f"{label}: {_mmhg(p)}, at or above the {_g(lim.overpressure_trip_mmhg)} mmHg over-pressure trip",
                    {"pressure_mmhg": p, "trip_mmhg": lim.overpressure_trip_mmhg}))
            last = self._last_valid.setdefault(ch, now_s)
            if p >= lim.pressure_min_plausible_mmhg:  # False for NaN
                last = self._last_valid[ch] = now_s
            age = now_s - last
            if age >= lim.stale_reading_s:
                what = (f"pressure not read for {age:.1f} s" if math.isnan(p) else
                        f"pressure sensor reads {_mmhg(p)}, below the plausible "
                        f"{_g(lim.pressure_min_plausible_mmhg)} mmHg for {age:.1f} s (sensor unplugged or broken?)")
                faults.append(Fault.make("pressure_sensor_range", ch, now_s, f"{label}: {what}",
                                         {"pressure_mmhg": p, "age_s": age}))
        return faults


class _VentEpisode:
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
        faults = []
        for ch in self.chambers:
            p = _pressure(readings, ch)
            for fault in (self._vent_check(ch, p, powered, now_s),
                          self._fill_check(ch, p, powered, ctx.pressure_targets_mmhg.get(ch), now_s),
                          self._hold_check(ch, p, powered, now_s),
                          self._frozen_check(ch, p, powered, now_s)):
                if fault is not None:
                    faults.append(fault)
        return faults

    def _vent_check(self, ch: str, p: float, powered: _Powered, now_s: float) -> Fault | None:
        lim = self.limits
        if not (powered.vent_open(ch) and not powered.fill_open(ch)):
            self._vent.pop(ch, None)
            return None
        ep = self._vent.setdefault(ch, _VentEpisode(now_s))
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

    def _fill_check(self, ch: str, p: float, powered: _Powered, target: float | None, now_s: float) -> Fault | None:
        """One fill attempt runs from the first tick its fill valve opens (pump on, a target set)
        until the chamber vents or the target goes away; brief valve closures inside it (top-ups,
        the pump shared with the other leg) do not restart the clock."""
        lim = self.limits
        filling = powered.filling(ch) and target is not None and target > 0.0
        attempt = self._fill_attempt.get(ch)
        if attempt is not None and (powered.vent_open(ch) or not target):
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

    def _hold_check(self, ch: str, p: float, powered: _Powered, now_s: float) -> Fault | None:
        lim = self.limits
        closed = not powered.vent_open(ch)
        holding = closed and (p >= lim.vent_below_mmhg or (math.isnan(p) and ch in self._hold))
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

    def _frozen_check(self, ch: str, p: float, powered: _Powered, now_s: float) -> Fault | None:
        lim = self.limits
        filling = powered.filling(ch)
        venting = powered.vent_open(ch) and not powered.fill_open(ch) and p > lim.vent_below_mmhg
        if not (filling or venting) or math.isnan(p):
            self._frozen.pop(ch, None)
            return None
        value, since = self._frozen.get(ch, (NAN, now_s))
        if _bits(p) != _bits(value):
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
        self._over = _Since()

    def check(self, readings: Readings, powered: _Powered, now_s: float) -> list[Fault]:
        lim = self.limits
        faults = []
        for roller in self.rollers:
            amps = abs(readings.roller_current_a.get(roller, NAN))
            duty = powered.roller_duty(roller)
            stall_limit = lim.roller_stall_ratio * self.stall_a * duty
            stalled = duty >= self.MIN_DUTY and amps >= stall_limit
            over = amps > lim.roller_current_limit_a or stalled
            held = self._over.held_for(roller, over, now_s)
            if held is not None and held >= lim.roller_overcurrent_s:
                if amps > lim.roller_current_limit_a:
                    why = f"over the {_g(lim.roller_current_limit_a)} A limit"
                else:
                    why = f"{amps / (self.stall_a * duty):.0%} of stall current at {duty:.0%} duty"
                faults.append(Fault.make(
                    "roller_overcurrent", roller, now_s,
                    f"{self.names.roller(roller)}: drawing {amps:.2f} A, {why} for {held:.2f} s: jammed or stalled?",
                    {"current_a": amps, "duty": duty, "limit_a": lim.roller_current_limit_a, "held_s": held}))
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
        return [
            *self.machine.check(readings, ctx, now_s),
            *self.overtemp.check(readings, now_s),
            *self.plausibility.check(readings, now_s),
            *self.heaters.check(readings, powered, ctx, now_s),
            *self.pressure.check(readings, now_s),
            *self.valves.check(readings, powered, ctx, now_s),
            *self.rollers.check(readings, powered, now_s),
            *self.chips.check(readings, now_s),
        ]

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

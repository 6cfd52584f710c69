"""Heat interlocks: over-temperature, sensor plausibility and heater verification.

Windows are measured from the first tick a condition is seen and trip on the first tick at
which it has lasted the full window (``elapsed >= window``)."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
import math

from controller.model.config import MachineConfig
from controller.model.faults import Fault
from controller.model.limits import PadCommissioning, heating_check
from controller.model.readings import PadReading, Readings
from controller.safety.context import (NAN, SENSOR_NAMES, Powered, SafetyContext, ZoneNames, fmt_c, fmt_g, pad_reading,
                                      plausible_c)


class OverTemperature:
    """Either sensor of a pad at or above ``overtemp_trip_c`` (45 °C) trips on the same tick.

    Any reading counts, even an implausible +inf from a shorted thermistor: the code drops the
    relay, and that is the right answer to "this pad might be very hot".
    """

    def __init__(self, config: MachineConfig, names: ZoneNames) -> None:
        self.limits = config.limits
        self.pads = config.pad_names
        self.names = names

    def check(self, readings: Readings, now_s: float) -> list[Fault]:
        trip = self.limits.overtemp_trip_c
        faults = []
        for pad in self.pads:
            r = pad_reading(readings, pad)
            if r.temp_c >= trip or r.temp2_c >= trip:
                faults.append(self._fault(pad, r, trip, now_s))
        return faults

    def _fault(self, pad: str, r: PadReading, trip: float, now_s: float) -> Fault:
        hot = [(name, v) for name, v in zip(SENSOR_NAMES, (r.temp_c, r.temp2_c)) if v >= trip]
        name, v = max(hot, key=lambda nv: nv[1])
        return Fault.make(
            "overtemp", pad, now_s,
            f"{self.names.pad(pad)}: {name} at {fmt_c(v)}, at or above the {fmt_g(trip)} °C "
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

    Pads are read on thermal ticks only (one tick in 12 by default); in between, a pad's
    reading is unchanged. A reading in which a tick found nothing wrong is remembered
    (``_quiet``, compared by value): while the pad's reading equals it, the range and
    disagreement checks would find nothing again and the read clocks cannot move, so only the
    age is checked, and the full check runs again as soon as the age reaches the limit (the
    same tick as before). This saves ~6 % of a ``--speed 0`` scan tick (bench speed).
    """

    def __init__(self, config: MachineConfig, names: ZoneNames) -> None:
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
        faults = []
        for pad in self.pads:
            r = pad_reading(readings, pad)
            quiet = self._quiet.get(pad)
            if quiet is not None and quiet[0] == r and now_s - quiet[1] < lim.stale_reading_s:
                continue  # found fine before, and neither sensor's age at the limit yet
            n_faults = len(faults)
            t1, t2 = r.temp_c, r.temp2_c
            # a NaN is a reading that did not happen: the stale check below speaks for it
            if any(not math.isnan(v) and not plausible_c(v, lim) for v in (t1, t2)):
                faults.append(self._range_fault(pad, r, now_s))

            both_plausible = plausible_c(t1, lim) and plausible_c(t2, lim)
            diff = abs(t1 - t2) if both_plausible else NAN
            if both_plausible and diff > lim.sensor_disagree_c:
                held = now_s - self._disagree_since.setdefault(pad, now_s)
                if held >= lim.stale_reading_s:
                    faults.append(self._disagree_fault(pad, r, diff, now_s))
            else:
                self._disagree_since.pop(pad, None)

            lasts = self._last_read[pad]
            for i, v in enumerate((t1, t2)):
                if lasts[i] is None:
                    lasts[i] = now_s
                if not math.isnan(v) and r.t_s > lasts[i]:
                    lasts[i] = r.t_s
                age = now_s - lasts[i]
                if age >= lim.stale_reading_s:
                    faults.append(self._stale_fault(pad, r, i, age, now_s))
                    break  # one stale fault per pad says enough

            if len(faults) == n_faults and pad not in self._disagree_since:
                self._quiet[pad] = (r, min(lasts))
            else:
                self._quiet.pop(pad, None)
        return faults

    def _seen(self, r: PadReading) -> dict:
        return {"temp_c": r.temp_c, "temp2_c": r.temp2_c, "read_t_s": r.t_s}

    def _range_fault(self, pad: str, r: PadReading, now_s: float) -> Fault:
        lim = self.limits
        bad = [(name, v) for name, v in zip(SENSOR_NAMES, (r.temp_c, r.temp2_c))
               if not math.isnan(v) and not plausible_c(v, lim)]
        name, v = bad[0]
        why = "open circuit or unplugged?" if v < lim.sensor_min_c else "short circuit?"
        return Fault.make(
            "temp_sensor_range", pad, now_s,
            f"{self.names.pad(pad)}: {name} reads {fmt_c(v)}, outside {fmt_g(lim.sensor_min_c)}–{fmt_g(lim.sensor_max_c)} °C "
            f"({why})", self._seen(r))

    def _disagree_fault(self, pad: str, r: PadReading, diff: float, now_s: float) -> Fault:
        lim = self.limits
        return Fault.make(
            "temp_sensor_disagree", pad, now_s,
            f"{self.names.pad(pad)}: sensors disagree by {diff:.1f} °C (thermistor {fmt_c(r.temp_c)}, digital sensor "
            f"{fmt_c(r.temp2_c)}; allowed {fmt_g(lim.sensor_disagree_c)} °C)",
            {**self._seen(r), "difference_c": diff, "limit_c": lim.sensor_disagree_c})

    def _stale_fault(self, pad: str, r: PadReading, sensor: int, age: float, now_s: float) -> Fault:
        name = SENSOR_NAMES[sensor]
        return Fault.make(
            "temp_stale", pad, now_s,
            f"{self.names.pad(pad)}: {name} not read for {age:.1f} s (limit {fmt_g(self.limits.stale_reading_s)} s)",
            {**self._seen(r), "sensor": name, "age_s": age})


class HeaterVerification:
    """Does the heat follow the heater? Klipper's verify_heater, for a pad on a leg.

    No gain (``heater_no_gain``, lockout): while the written duty is at least
    ``heating_check_duty`` (0.8; or the configured maximum duty if that is lower, so the check
    cannot be disabled by configuration) and the pad's control sensor is below its target by
    more than ``heating_check_margin_c`` (5 °C), it must gain the pad's required gain within the
    pad's window. Both come from the pad's commissioning (half its commissioned full-power rise
    in its commissioned window) or, without it, the uncommissioned 1 °C in 100 s that every pad
    of the variation envelope passes; either is held inside the limits (outer bounds: window
    ≤ 180 s, gain ≥ 1 °C; see ``controller.model.limits.heating_check``). Each time it gains, a
    new goal is set from there (Klipper's goal_temp/goal_systime). Leaving those conditions
    disarms the check. A detached sensor or a broken or weak element fails it.

    Heating while off (``heater_runaway``, lockout, relay off): while the heater is off (duty 0
    written, or the relay open), a rise of ``heating_off_rise_c`` (2 °C) within any
    ``heating_off_window_s`` (30 s) trips. The rise is measured from the *minimum* seen in the
    window, counting only samples taken while the heater was off, and both plausible sensors
    must show it (a stuck MOSFET warms the whole pad; one sensor alone is a sensor problem,
    which the disagreement check catches). After a heater that was on goes off, samples count
    only from ``heating_off_settle_s`` (30 s) later: until then the sensors are still catching
    up with a surface that was heating. The heat stored in the element alone lifts the surface
    by ~1 °C (default pad: 0.8 °C after a full-power warm-up), but a light pad on a strong
    element seen through the envelope's slowest sensors (16 s / 32 s lag) reads 2 °C more
    within 14 s of switch-off while the surface itself rises 0.4 °C: without the settle that
    unit locked out on its first warm-up. A heater that has been off since the start has no
    settle. What the settle costs: a switch that sticks exactly at switch-off is judged from
    30 s later, by when a default pad at full power has gained ~3 °C; the over-temperature
    trip (relay off) bounds it either way, and ``_hot_while_off`` makes that a lockout.
    """

    def __init__(self, config: MachineConfig, names: ZoneNames,
                 commissioning: Mapping[str, PadCommissioning] | None = None) -> None:
        self.limits = config.limits
        self.pads = config.pad_names
        self.names = names
        self.check_duty = min(config.limits.heating_check_duty, config.heat.max_duty)
        given = commissioning or {}
        #: pad -> its heating check (window, required gain), from its commissioning if any
        self.heating = {p: heating_check(config.limits, given.get(p)) for p in self.pads}
        self._goal: dict[str, tuple[float, float, float, float]] = {}  # pad -> goal_c, goal_t, from_c, from_t
        self._off_lows = {p: (_WindowLow(), _WindowLow()) for p in self.pads}  # thermistor, digital
        self._last_sample_t: dict[str, float] = {}
        # pad -> when its heater went off. Its window lows hold samples only while it is here:
        # both are set in the heater-off branch and cleared together when the heater comes on.
        self._off_since: dict[str, float] = {}
        self._was_on: set[str] = set()  # pads whose heater has been on: their off-periods settle first

    def check(self, readings: Readings, powered: Powered, ctx: SafetyContext, now_s: float) -> list[Fault]:
        faults = []
        for pad in self.pads:
            r = pad_reading(readings, pad)
            duty = powered.out.heater_duty.get(pad, 0.0) if powered.relay else 0.0
            fault = self._no_gain(pad, r, duty, ctx.heat_targets_c.get(pad), now_s)
            if fault:
                faults.append(fault)
            # heating while off
            if duty > 0.0:
                self._was_on.add(pad)
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
        watching = (target is not None and duty >= self.check_duty and plausible_c(temp, lim)
                    and temp < target - lim.heating_check_margin_c)
        if not watching:
            self._goal.pop(pad, None)
            return None
        check = self.heating[pad]
        goal = self._goal.get(pad)
        if goal is None or temp >= goal[0]:
            self._goal[pad] = (temp + check.gain_c, now_s + check.window_s, temp, now_s)
            return None
        goal_c, goal_t, from_c, from_t = goal
        if now_s < goal_t:
            return None
        power = "full power" if duty >= 0.995 else f"{duty:.0%} power"
        if check.commissioned_rise_c is None:
            expected = f"at least {fmt_g(check.gain_c)} °C expected (pad not commissioned)"
        else:
            expected = f"commissioned {check.commissioned_rise_c:.1f} °C"
        return Fault.make(
            "heater_no_gain", pad, now_s,
            f"{self.names.pad(pad)}: {temp - from_c:.1f} °C in {now_s - from_t:.0f} s at {power}, {expected}: "
            "element weak or sensor off the pad",
            {"temp_c": temp, "temp2_c": r.temp2_c, "start_c": from_c, "duty": duty, "target_c": target,
             "window_s": check.window_s, "gain_c": check.gain_c,
             "commissioned_rise_c": check.commissioned_rise_c})

    def _runaway(self, pad: str, r: PadReading, now_s: float) -> Fault | None:
        """The heater is off (duty 0 written, or the relay open)."""
        lim = self.limits
        lows = self._off_lows[pad]
        off_since = self._off_since.setdefault(pad, now_s)
        settle_s = lim.heating_off_settle_s if pad in self._was_on else 0.0
        if r.t_s > self._last_sample_t.get(pad, -math.inf) and r.t_s >= off_since + settle_s:
            self._last_sample_t[pad] = r.t_s
            for low, v in zip(lows, (r.temp_c, r.temp2_c)):
                low.add(r.t_s, v if plausible_c(v, lim) else NAN)
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
            f"(limit {fmt_g(lim.heating_off_rise_c)} °C in {fmt_g(lim.heating_off_window_s)} s): heater switch stuck on?",
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
        hot = [v for v in (r.temp_c, r.temp2_c) if plausible_c(v, lim) and v >= trip]
        if not hot:
            return None
        return Fault.make(
            "heater_runaway", pad, r.t_s,
            f"{self.names.pad(pad)}: {max(hot):.1f} °C, over the {fmt_g(lim.overtemp_trip_c)} °C trip with its heater "
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

"""Pressure interlocks: over-pressure and plausibility, then the valve checks (vent, fill, hold,
frozen sensor) from what the gate actually wrote."""

from __future__ import annotations

import math
import struct

from controller.model.config import MachineConfig
from controller.model.faults import Fault
from controller.model.readings import Readings
from controller.safety.context import NAN, SafetyContext, ZoneNames, fmt_mmhg, fmt_g, Powered


class PressureLimits:
    """The pressure a chamber may show, and whether its sensor can be believed.

    - at or above ``overpressure_trip_mmhg`` (150 mmHg) → ``overpressure`` on the same tick
      (the gate vents every chamber and drops the relay in the same tick's write);
    - below ``pressure_min_plausible_mmhg`` (-20 mmHg) or not read (NaN) for ``stale_reading_s``
      (1 s) → ``pressure_sensor_range``. One bad sample is allowed; a second of them is not.
    """

    def __init__(self, config: MachineConfig, names: ZoneNames) -> None:
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
                    f"{self.names.chamber(ch)}: {fmt_mmhg(p)}, at or above the {fmt_g(trip)} mmHg over-pressure trip",
                    {"pressure_mmhg": p, "trip_mmhg": trip}))
            if p >= plausible_from:  # False for NaN
                last = last_valid[ch] = now_s
            else:
                last = last_valid.setdefault(ch, now_s)  # never valid: timed from the first tick
            age = now_s - last
            if age >= stale_s:
                what = (f"pressure not read for {age:.1f} s" if math.isnan(p) else
                        f"pressure sensor reads {fmt_mmhg(p)}, below the plausible "
                        f"{fmt_g(plausible_from)} mmHg for {age:.1f} s (sensor unplugged or broken?)")
                faults.append(Fault.make("pressure_sensor_range", ch, now_s, f"{self.names.chamber(ch)}: {what}",
                                         {"pressure_mmhg": p, "age_s": age}))
        return faults


class _VentEpisode:
    __slots__ = ("start_s", "start_mmhg", "emptied")

    def __init__(self, now_s: float) -> None:
        self.start_s = now_s
        self.start_mmhg = NAN
        self.emptied = False


#: a vent must stay open this long (or the chamber fall below vent_below_mmhg) to end a hold
HOLD_RELEASE_S = 0.5


class ValveChecks:
    """Do the valves and the pump do what the gate wrote? Tracked from ``last_outputs``.

    - vent (``vent_failure``, lockout, relay off): vent open and fill closed for
      ``vent_window_s`` (5 s) and still at or above ``vent_below_mmhg`` (10 mmHg). Only a
      venting that began at or above ``vent_below_mmhg`` is judged; once it dips below, this
      venting has passed;
    - fill (``fill_failure``): fill open with the pump running for ``fill_timeout_s`` (20 s)
      without once reaching half the chamber's target;
    - hold (``hold_too_long``): vent closed with the chamber at or above ``vent_below_mmhg``
      for ``max_hold_s`` (60 s): no tourniquet. A missing reading does not end a hold, and
      neither does a vent open for less than ``HOLD_RELEASE_S`` that leaves the chamber at
      pressure (an anchor's bleed pulse eases a chamber, it does not release it);
    - frozen sensor (``pressure_sensor_frozen``): a reading bit-identical for
      ``pressure_frozen_window_s`` (3 s) while air is moving (fill open with the pump running,
      or vent open above ``vent_below_mmhg``): real sensors always show noise and flow.

    Each check keeps state only while its valve condition holds: ``check`` forgets it the
    tick the condition ends, and calls the check only while there is something to judge.
    """

    def __init__(self, config: MachineConfig, names: ZoneNames) -> None:
        self.limits = config.limits
        self.chambers = config.chamber_names
        self.names = names
        self._vent: dict[str, _VentEpisode] = {}
        self._fill_attempt: dict[str, float] = {}  # chamber -> when this fill attempt began
        self._fill_reached: set[str] = set()
        self._hold: dict[str, float] = {}
        self._hold_vent_open: dict[str, float] = {}  # chamber -> since when its vent is open in a hold
        self._frozen: dict[str, tuple[float, float]] = {}  # chamber -> value, since

    def check(self, readings: Readings, powered: Powered, ctx: SafetyContext, now_s: float) -> list[Fault]:
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
                self._hold_vent_open.pop(ch, None)
                fault = self._hold_check(ch, p, now_s)
                if fault is not None:
                    faults.append(fault)
            elif ch in self._hold:
                opened = self._hold_vent_open.setdefault(ch, now_s)
                if now_s - opened >= HOLD_RELEASE_S or not p >= vent_below:  # released (NaN: not known held)
                    del self._hold[ch]
                    del self._hold_vent_open[ch]
                else:
                    fault = self._hold_check(ch, p, now_s)  # a brief vent at pressure: still held
                    if fault is not None:
                        faults.append(fault)

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
            f"{self.names.chamber(ch)}: still {fmt_mmhg(p)} {elapsed:.1f} s after venting began at "
            f"{fmt_mmhg(ep.start_mmhg)} (must be below {fmt_g(lim.vent_below_mmhg)} mmHg within "
            f"{fmt_g(lim.vent_window_s)} s): vent valve stuck closed?{frozen}",
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
            f"{self.names.chamber(ch)}: only {fmt_mmhg(p)} after {held:.1f} s of filling toward {fmt_mmhg(target)} "
            f"(half, {fmt_mmhg(target / 2.0)}, is due within {fmt_g(lim.fill_timeout_s)} s): leak or pump failure?",
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
            f"{self.names.chamber(ch)}: held closed at {fmt_mmhg(p)} for {held:.1f} s "
            f"(limit {fmt_g(lim.max_hold_s)} s: no tourniquet)",
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
            f"{self.names.chamber(ch)}: pressure reading stuck at exactly {fmt_mmhg(p)} for {held:.1f} s with "
            f"{moving}: pressure sensor frozen, or no air getting through?",
            {"pressure_mmhg": p, "unchanged_s": held})


def _bits(v: float) -> bytes:
    """The exact bits: a frozen sensor repeats its value to the last bit."""
    return struct.pack("<d", v)

"""The output gate: the last word between every controller and every actuator.

A pure function of what the controllers want and which faults are active, so it can be proven
by property tests and cannot be bypassed by state. What it enforces:

- each active stop or lockout fault cuts its family: heat → every heater off; pressure → pump
  off, every fill closed, every vent open; roller → every roller stopped; machine (a session
  overrun, a failing expander) → all three (the relay is left as asked unless the code says
  otherwise). Warnings cut nothing;
- any lockout, any fault whose code drops the relay (over-temperature, over-pressure, stuck
  heater switch, stuck vent, late tick, emergency stop) → ``Outputs.safe``: everything off,
  vents open, relay open — what losing power would do;
- always, fault or not: values clamped (duty 0..1, speed -1..1, NaN → off), only configured
  zones pass (an unknown zone never reaches a pin, a missing vent is open), a chamber's fill
  and vent are never open together (the vent wins), and the pump never runs with every fill
  closed (dead-heading the diaphragm against closed valves);
- always, the person's profile cut (``ZoneCut``, from ``controller.safety.profile_cut``): a leg
  with a wound gets no heat, no air (fill closed, vent open) and no rollers, a numb leg no heat,
  whatever a program, a command or a technician's manual override asks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from controller.model.faults import Fault, Severity
from controller.model.outputs import Outputs


@dataclass(frozen=True, slots=True)
class ZoneCut:
    """Zones the person's profile keeps off: pads without heat, chambers without air, rollers still."""

    pads: frozenset[str] = frozenset()
    chambers: frozenset[str] = frozenset()
    rollers: frozenset[str] = frozenset()


NO_CUT = ZoneCut()


def gate(wanted: Outputs, faults: Iterable[Fault], pads, chambers, rollers, cut: ZoneCut = NO_CUT) -> Outputs:
    cutting = [f for f in faults if f.severity is not Severity.WARNING]
    families: set[str] = set()
    if cutting:  # (most ticks have none: the wanted outputs are only clamped and checked)
        if any(f.severity is Severity.LOCKOUT or f.relay_off or f.code == "estop" for f in cutting):
            return Outputs.safe(pads, chambers, rollers)
        families = {f.family for f in cutting}
        if "machine" in families:
            families |= {"heat", "pressure", "roller"}

    heater = _clamped(wanted.heater_duty, pads, 0.0, 1.0, cut="heat" in families)
    speed = _clamped(wanted.roller_speed, rollers, -1.0, 1.0, cut="roller" in families)
    any_fill = False
    if "pressure" in families:
        vent = dict.fromkeys(chambers, True)
        fill = dict.fromkeys(vent, False)
        pump = 0.0
    else:
        pump = _clamp(wanted.pump_duty, 0.0, 1.0)
        want_vent, want_fill = wanted.vent_open, wanted.fill_open
        vent, fill = {}, {}
        for c in chambers:
            vent[c] = is_vent = want_vent.get(c, True) is not False
            if c in cut.chambers:
                vent[c] = is_vent = True
            fill[c] = is_fill = want_fill.get(c, False) is True and not is_vent
            any_fill = any_fill or is_fill
    if cut is not NO_CUT:
        for pad in cut.pads:
            if pad in heater:
                heater[pad] = 0.0
        for roller in cut.rollers:
            if roller in speed:
                speed[roller] = 0.0
    return Outputs(
        heater_duty=heater,
        fill_open=fill,
        vent_open=vent,
        pump_duty=pump if any_fill else 0.0,  # never against closed fills (dead-heading)
        roller_speed=speed,
        relay_closed=wanted.relay_closed is True,
    )


def _clamped(wanted: dict, zones, low: float, high: float, *, cut: bool) -> dict:
    """Every zone's wanted value clamped into [low, high] (missing: 0), or 0 everywhere if cut."""
    if cut:
        return dict.fromkeys(zones, 0.0)
    out = {}
    for zone in zones:
        v = wanted.get(zone, 0.0)
        # A float strictly inside the range is what _clamp would return (itself): only the
        # rest takes the call.
        out[zone] = v if v.__class__ is float and low < v < high else _clamp(v, low, high)
    return out


def _clamp(value, low: float, high: float) -> float:
    """Into [low, high]; anything that is not a real number (NaN, None, text) is 0 = off.

    Written out rather than as ``min(high, max(low, v))`` (this runs for every zone every
    tick), with the same result to the bit: ``low`` for anything at or below it (-0.0 included),
    ``high`` for anything at or above it.
    """
    if value.__class__ is not float:
        try:
            value = float(value)
        except (TypeError, ValueError):
            return 0.0
    if value != value:  # NaN
        return 0.0
    if value > low:
        return value if value < high else high
    return low

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

import math
from collections.abc import Iterable
from dataclasses import dataclass

from controller.model.faults import Fault, Severity
from controller.model.outputs import Outputs


@dataclass(frozen=True)
class ZoneCut:
    """Zones the person's profile keeps off: pads without heat, chambers without air, rollers still."""

    pads: frozenset[str] = frozenset()
    chambers: frozenset[str] = frozenset()
    rollers: frozenset[str] = frozenset()


NO_CUT = ZoneCut()


def gate(wanted: Outputs, faults: Iterable[Fault], pads, chambers, rollers, cut: ZoneCut = NO_CUT) -> Outputs:
    pads, chambers, rollers = list(pads), list(chambers), list(rollers)
    cutting = [f for f in faults if f.severity is not Severity.WARNING]
    if any(f.severity is Severity.LOCKOUT or f.relay_off or f.code == "estop" for f in cutting):
        return Outputs.safe(pads, chambers, rollers)
    families = {f.family for f in cutting}
    if "machine" in families:
        families |= {"heat", "pressure", "roller"}

    heater = {p: 0.0 if "heat" in families else _clamp(wanted.heater_duty.get(p, 0.0), 0.0, 1.0) for p in pads}
    speed = {r: 0.0 if "roller" in families else _clamp(wanted.roller_speed.get(r, 0.0), -1.0, 1.0)
             for r in rollers}
    if "pressure" in families:
        fill = {c: False for c in chambers}
        vent = {c: True for c in chambers}
        pump = 0.0
    else:
        vent = {c: wanted.vent_open.get(c, True) is not False for c in chambers}
        fill = {c: wanted.fill_open.get(c, False) is True and not vent[c] for c in chambers}
        pump = _clamp(wanted.pump_duty, 0.0, 1.0)
    # The profile cut wins over every controller, command and manual override.
    heater.update({p: 0.0 for p in cut.pads if p in heater})
    speed.update({r: 0.0 for r in cut.rollers if r in speed})
    for c in cut.chambers & set(chambers):
        vent[c], fill[c] = True, False
    if not any(fill.values()):
        pump = 0.0  # never against closed fills (dead-heading)
    return Outputs(
        heater_duty=heater,
        fill_open=fill,
        vent_open=vent,
        pump_duty=pump,
        roller_speed=speed,
        relay_closed=wanted.relay_closed is True,
    )


def _clamp(value, low: float, high: float) -> float:
    """Into [low, high]; anything that is not a real number (NaN, None, text) is 0 = off."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return 0.0
    if math.isnan(v):
        return 0.0
    return min(high, max(low, v))

"""The zones the person's profile keeps off, for the gate (``gate.ZoneCut``).

Why in the gate and not only in the program: the runner and the controllers already want
nothing on a spared leg, but a command, a later phase or a technician's manual override could
still ask for it; the gate is the one place every output passes, so the cut holds whatever asks.

- a leg with a wound or infection: its pads, chambers and rollers (touching a wound spreads an
  infection and breaks the skin further);
- a leg with numbness or poor circulation: its pads (a numb foot does not feel a burn); its
  pressure is capped by the intensity cap instead.
"""

from __future__ import annotations

from controller.model.config import MachineConfig
from controller.model.profile import Profile
from controller.safety.gate import NO_CUT, ZoneCut


def profile_cut(profile: Profile, config: MachineConfig) -> ZoneCut:
    spared, no_heat = profile.spared_legs, profile.no_heat_legs
    if not no_heat:
        return NO_CUT
    return ZoneCut(
        pads=frozenset(p.zone for p in config.pads if p.leg in no_heat),
        chambers=frozenset(c.zone for c in config.chambers if c.leg in spared),
        rollers=frozenset(r.zone for r in config.rollers if r.leg in spared),
    )

"""What every interlock family shares: the context from the rest of the machine, zone names in
words, number formats for messages, and what the relay let through last tick."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import math

from controller.model.config import MachineConfig
from controller.model.limits import SafetyLimits
from controller.model.outputs import Outputs
from controller.model.readings import ErrorZone, PadReading, Readings


NAN = math.nan
NOT_READ = PadReading(NAN, NAN, -math.inf)  # a pad the board has never read
SENSOR_NAMES = ("thermistor", "digital sensor")



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
class ZoneNames:
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

    def error_zone(self, zone: ErrorZone) -> str:
        """Where a chip error was seen, in words: "left calf pad", "expander"."""
        if zone.family == "pad":
            return self.pad(zone.name)
        if zone.family == "chamber":
            return self.chamber(zone.name)
        if zone.family == "roller":
            return self.roller(zone.name)
        return zone.name


def fmt_c(v: float) -> str:
    return f"{v:.1f} °C" if math.isfinite(v) else ("+inf" if v > 0 else "-inf" if v < 0 else "no value")


def fmt_mmhg(v: float) -> str:
    return f"{v:.1f} mmHg" if math.isfinite(v) else ("+inf" if v > 0 else "-inf" if v < 0 else "no value")


def fmt_g(v: float) -> str:
    """A limit as written in the table: 45, 0.2, 1.5."""
    return f"{v:g}"


def pad_reading(readings: Readings, zone: str) -> PadReading:
    return readings.pads.get(zone, NOT_READ)


def pressure_of(readings: Readings, zone: str) -> float:
    return readings.pressure_mmhg.get(zone, NAN)


def plausible_c(v: float, limits: SafetyLimits) -> bool:
    return limits.sensor_min_c <= v <= limits.sensor_max_c  # False for NaN and ±inf


class Powered:
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

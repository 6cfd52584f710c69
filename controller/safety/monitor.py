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
relay means no heater, pump or valve power, and an unpowered vent is open (normally-open)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from controller.model.config import MachineConfig
from controller.model.faults import Fault, Severity
from controller.model.limits import PadCommissioning, heating_check
from controller.model.outputs import Outputs
from controller.model.readings import ErrorZone, Readings
from controller.safety.context import NAN, SafetyContext, ZoneNames, pad_reading, pressure_of, plausible_c, Powered
from controller.safety.heat_checks import HeaterVerification, OverTemperature, TemperaturePlausibility
from controller.safety.machine_checks import ChipErrors, MachineChecks
from controller.safety.pressure_checks import PressureLimits, ValveChecks
from controller.safety.roller_checks import RollerCurrent


#: Over-temperature clears on acknowledgement only once both sensors are this far below the
#: trip: a pad hovering at the trip must not be re-armed straight back into it.
OVERTEMP_CLEAR_MARGIN_C = 2.0


class SafetyMonitor:
    """All interlocks, checked every tick before anything is written."""

    def __init__(self, config: MachineConfig, commissioning: Mapping[str, PadCommissioning] | None = None) -> None:
        """``commissioning``: pad -> what commissioning measured (from the state directory); the
        heating check of each pad in it takes its window and required gain from it."""
        self.config = config
        self.limits = config.limits
        names = ZoneNames(config)
        self.overtemp = OverTemperature(config, names)
        self.plausibility = TemperaturePlausibility(config, names)
        self.heaters = HeaterVerification(config, names, commissioning)
        self.pressure = PressureLimits(config, names)
        self.valves = ValveChecks(config, names)
        self.rollers = RollerCurrent(config, names)
        self.machine = MachineChecks(config)
        self.chips = ChipErrors(config, names)

    def set_commissioning(self, commissioning: Mapping[str, PadCommissioning]) -> None:
        """A new commissioning (``legctl commission``, machine idle): the pads' heating checks
        use it from now on. Only the checks' bounds change; their history (the heating-while-off
        windows) is kept, so a heater that is warming while off is not forgotten."""
        for pad, record in commissioning.items():
            if pad in self.heaters.heating:
                self.heaters.heating[pad] = heating_check(self.limits, record)

    def check(self, readings: Readings, last_outputs: Outputs | None, now_s: float,
              context: SafetyContext | None = None) -> list[Fault]:
        """The faults present this tick (a fault already latched comes back while it lasts)."""
        ctx = context if context is not None else SafetyContext()
        cfg = self.config
        out = last_outputs if last_outputs is not None else Outputs.safe(cfg.pad_names, cfg.chamber_names,
                                                                          cfg.roller_names)
        powered = Powered(out)
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
            r = pad_reading(readings, zone or "")
            values = (r.temp_c, r.temp2_c)
            fresh = now_s - r.t_s < lim.stale_reading_s
            plausible = fresh and all(plausible_c(v, lim) for v in values)
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
        return all(lim.pressure_min_plausible_mmhg <= pressure_of(readings, ch) < lim.vent_below_mmhg
                   for ch in self.config.chamber_names)

    def _zone_reads_cleanly(self, fault_zone: str, readings: Readings, now_s: float) -> bool:
        zone = ErrorZone.parse(fault_zone)
        if any(error.zone == zone for error in readings.errors):
            return False
        if zone.family == "pad":
            r = pad_reading(readings, zone.name)
            return now_s - r.t_s < self.limits.stale_reading_s and not any(math.isnan(v) for v in (r.temp_c, r.temp2_c))
        if zone.family == "chamber":
            return not math.isnan(pressure_of(readings, zone.name))
        if zone.family == "roller":
            return not math.isnan(readings.roller_current_a.get(zone.name, NAN))
        return True

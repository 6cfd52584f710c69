"""One immutable snapshot of what the sensors said this tick.

A value that could not be read is NaN and its chip error is listed in ``errors``; the safety
layer, not the reader, decides what a missing or strange value means.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class PadReading:
    temp_c: float  # primary: NTC thermistor through the ADS1115 (controls the PID)
    temp2_c: float  # secondary: MCP9808 digital sensor (trips too)
    t_s: float  # loop time this pad was last read (thermal sensors are read at the slow rate)


@dataclass(frozen=True, slots=True)
class Readings:
    t_s: float
    pads: dict[str, PadReading]
    pressure_mmhg: dict[str, float]
    pressure_t_s: dict[str, float]  # when each pressure was last read successfully
    roller_current_a: dict[str, float]
    estop_tripped: bool
    thermal_fresh: bool = False  # this tick read the thermal sensors
    errors: tuple[str, ...] = field(default=())  # driver errors this tick, each naming chip and address
    error_zones: tuple[str, ...] = field(default=())  # "pad:left_calf", "chamber:left_foot", "roller:..."

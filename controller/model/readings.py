"""One immutable snapshot of what the sensors said this tick.

A value that could not be read is NaN and its chip error is listed in ``errors``; the safety
layer, not the reader, decides what a missing or strange value means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple, get_args

#: what a chip error belongs to: a pad, chamber or roller zone, or a part of the machine itself
ErrorFamily = Literal["pad", "chamber", "roller", "machine"]
ERROR_FAMILIES: tuple[str, ...] = get_args(ErrorFamily)


class ErrorZone(NamedTuple):
    """Where a chip error was seen: ``ErrorZone("pad", "left_calf")``,
    ``ErrorZone("machine", "expander")``. A named tuple rather than a dataclass: the board keys
    each tick's analog volts by it, and a tuple hashes and compares in C."""

    family: ErrorFamily
    name: str

    def __str__(self) -> str:
        """The zone a ``chip_error`` fault carries in reports, logs and MQTT: "pad:left_calf"."""
        return f"{self.family}:{self.name}"

    @classmethod
    def parse(cls, text: str) -> ErrorZone:
        """Back from a fault's zone ("pad:left_calf"); text without a known family is a machine
        part, so an odd zone from an old fault log still names something."""
        family, sep, name = text.partition(":")
        if sep and family in ERROR_FAMILIES:
            return cls(family, name)  # type: ignore[arg-type]  (checked just above)
        return cls("machine", text)


@dataclass(frozen=True, slots=True)
class ReadingError:
    """A driver error this tick: where, and the driver's words (chip, address, bus, errno)."""

    zone: ErrorZone
    text: str


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
    errors: tuple[ReadingError, ...] = ()  # driver errors this tick

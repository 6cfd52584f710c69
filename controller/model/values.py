"""Every value the machine shows the outside world, described once: name, unit, kind, zone.

The state snapshot (``controller.model.state``) rounds its numbers by these rows, Home
Assistant discovery names its entities, units and device classes by them, and ``legctl``'s
status table takes its columns from them. Before, each of the three spelled the same values by
hand and they could drift apart (a unit in one, a different rounding in another).

A row is either per zone (``zone`` names the family: one value per pad, chamber or roller,
found in the state under ``pads``/``chambers``/``rollers`` by zone name) or machine-wide
(``zone`` is None: a top-level field of the state). ``key`` is the field name in the state
and in its JSON: an interface, never renamed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """Where a value comes from: it tells a reader how far to trust it."""

    MEASURED = "measured"  # read from a sensor just now
    TARGET = "target"  # what a controller aims for
    OUTPUT = "output"  # what the safety gate let through to an actuator
    SETTING = "setting"  # chosen by a person (intensity, heat)
    STATUS = "status"  # the machine's own account of itself (mode, program, faults)


class Zone(StrEnum):
    """The zone families; the value is the state's collection name (``state.pads``, ...)."""

    PAD = "pads"
    CHAMBER = "chambers"
    ROLLER = "rollers"


class Style(StrEnum):
    """How ``legctl`` prints a value in a table cell."""

    NUMBER = "number"  # fixed digits
    PERCENT = "percent"  # a fraction 0..1 (or -1..1) as a whole percentage
    VALVE = "valve"  # True/False as open/closed


@dataclass(frozen=True, slots=True)
class Column:
    """A column of ``legctl``'s status table."""

    header: str
    style: Style = Style.NUMBER
    digits: int = 1


@dataclass(frozen=True, slots=True)
class Value:
    key: str  # field name in the state and its JSON
    label: str  # a person's name for it ("pad temperature"; zone values get the zone in front)
    kind: Kind
    zone: Zone | None = None  # the zone family, or None for a machine-wide value
    unit: str | None = None  # SI-ish symbol as shown ("°C", "mmHg", "A", "s"); None = no unit
    digits: int | None = None  # the state rounds the number to this many decimals
    quantity: str | None = None  # the physical quantity (also Home Assistant's device class)
    entity: str | None = None  # Home Assistant component id (a zone value's is prefixed by the zone)
    display_digits: int | None = None  # Home Assistant's suggested display precision
    diagnostic: bool = False  # for a technician rather than the person on the couch
    column: Column | None = None  # shown in legctl's per-zone tables


_M, _T, _O, _S, _ST = Kind.MEASURED, Kind.TARGET, Kind.OUTPUT, Kind.SETTING, Kind.STATUS

#: per-zone values, in the order the state and the tables list them
PAD_VALUES = (
    Value("temp_c", "pad temperature", _M, Zone.PAD, "°C", 2, "temperature", "temperature", 1,
          column=Column("temp °C")),
    Value("temp2_c", "pad temperature (second sensor)", _M, Zone.PAD, "°C", 2, "temperature",
          column=Column("2nd °C")),
    Value("target_c", "pad target temperature", _T, Zone.PAD, "°C", 2, "temperature",
          column=Column("target °C")),
    Value("duty", "heater duty", _O, Zone.PAD, None, 3, column=Column("duty", Style.PERCENT)),
)
CHAMBER_VALUES = (
    Value("pressure_mmhg", "chamber pressure", _M, Zone.CHAMBER, "mmHg", 1, "pressure", "pressure", 0,
          column=Column("mmHg")),
    Value("target_mmhg", "chamber target pressure", _T, Zone.CHAMBER, "mmHg", 1, "pressure",
          column=Column("target")),
    Value("fill_open", "fill valve", _O, Zone.CHAMBER, column=Column("fill valve", Style.VALVE)),
    Value("vent_open", "vent valve", _O, Zone.CHAMBER, column=Column("vent valve", Style.VALVE)),
)
ROLLER_VALUES = (
    Value("speed", "roller speed", _O, Zone.ROLLER, None, 3, column=Column("speed", Style.PERCENT)),
    Value("current_a", "roller current", _M, Zone.ROLLER, "A", 3, "current", "roller_current",
          diagnostic=True, column=Column("current A", digits=2)),
)
ZONE_VALUES: dict[Zone, tuple[Value, ...]] = {
    Zone.PAD: PAD_VALUES, Zone.CHAMBER: CHAMBER_VALUES, Zone.ROLLER: ROLLER_VALUES}

#: machine-wide values (the zone collections and the fault list are described above and by
#: ``controller.model.faults``)
MACHINE_VALUES = (
    Value("seq", "snapshot number", _ST),
    Value("t_s", "machine time", _ST, unit="s", digits=3),
    Value("mode", "Mode", _ST, entity="mode"),
    Value("program", "running program", _ST),
    Value("program_name", "program name", _ST),
    Value("phase", "program phase", _ST),
    Value("phase_index", "program phase number", _ST),
    Value("elapsed_s", "time elapsed", _ST, unit="s", digits=1, quantity="duration"),
    Value("remaining_s", "Time remaining", _ST, unit="s", digits=1, quantity="duration", entity="remaining"),
    Value("intensity", "Intensity", _S, entity="intensity"),
    Value("heat_on", "Heat", _S, entity="heat"),
    Value("profile", "person's profile flags", _S),
    Value("relay_closed", "master power relay closed", _O),
    Value("pump_duty", "pump duty", _O, digits=3),
    Value("estop", "emergency stop pressed", _M),
    Value("pads", "heat pads", _ST),
    Value("chambers", "air chambers", _ST),
    Value("rollers", "rollers", _ST),
    Value("faults", "active faults", _ST),
    Value("lockout", "locked out (needs a technician)", _ST),
    Value("selected_program", "Program", _S, entity="program"),
    Value("last_session", "Last session", _ST, entity="last_session"),
    Value("profile_confirmed", "Profile confirmed", _S, entity="profile_confirmed"),
    Value("profile_pending", "Profile change waiting for the panel", _ST, entity="profile_pending"),
    Value("notice", "newest notice (a refusal or cap, and why)", _ST),
    Value("notices", "notices in force", _ST),
    Value("service", "service record (pump flow, leak-down)", _ST),
    # one Home Assistant sensor per leg (``<leg>_minutes_today``), from the daily record
    Value("minutes_today", "minutes today", _ST, unit="min", digits=1, quantity="duration",
          entity="minutes_today"),
    Value("problem", "Fault", _ST, entity="problem"),
    Value("problem_text", "Problem", _ST, entity="problem_text", diagnostic=True),
    Value("notice_text", "Notice", _ST, entity="notice"),
    # measured by the service record: full-duty fills from a low pressure, % of the reference
    Value("pump_percent", "Pump health", _M, unit="%", digits=1, entity="pump_health", display_digits=0,
          diagnostic=True),
)

BY_KEY: dict[str, Value] = {v.key: v for v in MACHINE_VALUES}


def digits_of(values: tuple[Value, ...]) -> dict[str, int]:
    """``{key: decimals}`` for the values the state rounds."""
    return {v.key: v.digits for v in values if v.digits is not None}

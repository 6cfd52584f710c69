"""Faults: what went wrong and how bad it is (the latch that remembers them is ``safety.latch``).

A fault carries its code, severity, zone, time and the readings that caused it, so a log line
alone tells a technician what happened. The code table says what each fault means for the
machine: which actuator family the gate cuts, whether the master relay must drop, and whether
a user's acknowledgement may clear it (stop) or only a technician (lockout).

The latch is the single record of active faults. A stop fault clears on acknowledgement only
once its cause is gone (the caller decides that from fresh readings); a lockout never clears by
acknowledgement, survives a restart through the fault store, and is reset only by a
technician. Every raise and clear is appended to the persistent fault log.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple


class Severity(str, Enum):
    WARNING = "warning"  # shown and logged; cuts nothing
    STOP = "stop"  # the session ends safely; clears on acknowledgement once the cause is gone
    LOCKOUT = "lockout"  # everything off, relay open; only a technician may reset it


class FaultSpec(NamedTuple):
    severity: Severity
    family: str  # "heat", "pressure", "roller" or "machine": what the gate cuts
    relay_off: bool  # the master relay must open (everything unpowered, every vent open)
    description: str


FAMILIES = ("heat", "pressure", "roller", "machine")

_W, _S, _L = Severity.WARNING, Severity.STOP, Severity.LOCKOUT

#: Every fault code the machine raises. Other modules, the reports and the tests use these
#: exact strings.
FAULT_CODES: dict[str, FaultSpec] = {
    # heat
    "overtemp": FaultSpec(_S, "heat", True, "a pad sensor reached the over-temperature trip"),
    "temp_sensor_range": FaultSpec(_S, "heat", False, "a pad sensor reads outside the plausible range "
                                                      "(open or shorted thermistor, lost chip)"),
    "temp_sensor_disagree": FaultSpec(_S, "heat", False, "a pad's two temperature sensors disagree"),
    "temp_stale": FaultSpec(_S, "heat", False, "a pad's temperature has not been read recently"),
    "heater_no_gain": FaultSpec(_L, "heat", False, "a pad did not warm at high duty "
                                                   "(element weak or broken, or sensor off the pad)"),
    # Rising with the heater commanded off means the switch is stuck on: only the relay can stop it.
    "heater_runaway": FaultSpec(_L, "heat", True, "a pad warmed with its heater off (heater switch stuck on)"),
    # pressure
    # Over-pressure drops the relay as well as venting: if the cause is a pump or fill valve
    # that no longer obeys its command, only cutting power stops it, and unpowered vents open.
    "overpressure": FaultSpec(_S, "pressure", True, "a chamber reached the over-pressure trip"),
    "pressure_sensor_range": FaultSpec(_S, "pressure", False, "a pressure sensor reads implausibly or not at all"),
    "vent_failure": FaultSpec(_L, "pressure", True, "a chamber did not empty after venting (vent valve stuck)"),
    "fill_failure": FaultSpec(_S, "pressure", False, "a chamber did not fill (leak or dead pump)"),
    "hold_too_long": FaultSpec(_S, "pressure", False, "a chamber stayed closed under pressure too long"),
    "pressure_sensor_frozen": FaultSpec(_S, "pressure", False, "a pressure reading stopped changing while air moved"),
    # The plant cannot reach a program's pressure (weak pump, leaky sleeve): said, never hidden;
    # it cuts nothing (every limit still holds), a person services the machine.
    "pressure_shortfall": FaultSpec(_W, "pressure", False, "a chamber keeps falling short of its pressure "
                                                           "(weak pump or leaky sleeve)"),
    # The service record measured the pump's flow (full-duty fills from a low pressure) below
    # what the unit should give: said before it costs therapy; it cuts nothing.
    "pump_weak": FaultSpec(_W, "pressure", False, "the pump delivers too little of its rated or commissioned "
                                                  "flow (service the pump)"),
    # rollers
    "roller_overcurrent": FaultSpec(_S, "roller", False, "a roller motor drew too much current (jam or stall)"),
    # machine
    "chip_error": FaultSpec(_S, "machine", False, "a sensor or expander chip kept failing"),
    "session_too_long": FaultSpec(_S, "machine", False, "the session ran past the session limit"),
    "tick_late": FaultSpec(_S, "machine", True, "the control loop ran late (blocked I/O)"),
    "estop": FaultSpec(_S, "machine", True, "the emergency stop is pressed (or its wire is cut)"),
    # A lockout file that cannot be read must never silently unlatch.
    "lockout_state_corrupt": FaultSpec(_L, "machine", True, "the saved lockout state could not be read"),
}

#: ``pump_weak``: a session's measured pump flow below this percentage of its commissioned flow
#: (``controller.storage.service_record``): a healthy unit reads ~100 %, so 75 % is wear well
#: before fills fall short.
PUMP_WEAK_PERCENT = 75.0
#: ... and uncommissioned, of the default plant's ("rated") fill rate: a fill rate cannot tell a
#: bigger sleeve from a weaker pump, and the envelope's sleeves reach 1.5x the default volume,
#: so only a rate below 75 % / 1.5 = 50 % proves the pump itself below 75 % of its flow.
PUMP_WEAK_RATED_PERCENT = PUMP_WEAK_PERCENT / 1.5


def pump_weak_below(reference: str) -> float:
    """The ``pump_weak`` threshold (percent) against a "commissioned" or a "rated" reference."""
    return PUMP_WEAK_PERCENT if reference == "commissioned" else PUMP_WEAK_RATED_PERCENT

#: chip_error's family comes from the zone prefix the board reports ("pad:left_calf", ...)
ZONE_PREFIX_FAMILY = {"pad": "heat", "chamber": "pressure", "roller": "roller", "machine": "machine"}


def spec_of(code: str) -> FaultSpec:
    """The table entry; an unknown code (from a newer log, say) is treated as a machine lockout."""
    spec = FAULT_CODES.get(code)
    if spec is None:
        return FaultSpec(Severity.LOCKOUT, "machine", True, f"unknown fault code {code!r}")
    return spec


@dataclass(frozen=True)
class Fault:
    code: str
    severity: Severity
    zone: str | None
    t_s: float
    message: str
    readings: dict = field(default_factory=dict, hash=False)  # evidence, not identity: faults stay hashable

    @classmethod
    def make(cls, code: str, zone: str | None, t_s: float, message: str, readings: dict | None = None) -> "Fault":
        """A fault with the severity the code table gives it."""
        return cls(code, spec_of(code).severity, zone, t_s, message, dict(readings or {}))

    @property
    def spec(self) -> FaultSpec:
        return spec_of(self.code)

    @property
    def family(self) -> str:
        if self.code == "chip_error":
            prefix = (self.zone or "").partition(":")[0]
            return ZONE_PREFIX_FAMILY.get(prefix, "machine")
        return self.spec.family

    @property
    def relay_off(self) -> bool:
        return self.spec.relay_off

    @property
    def key(self) -> tuple[str, str | None]:
        """Faults with the same key are the same problem: the latch keeps one."""
        return (self.code, self.zone)

    def to_dict(self) -> dict:
        """JSON-ready: non-finite numbers become "inf", "-inf", "nan" (strict JSON has none)."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "zone": self.zone,
            "t_s": self.t_s,
            "message": self.message,
            "readings": {str(k): json_ready(v) for k, v in self.readings.items()},
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Fault":
        readings = data.get("readings") or {}
        if not isinstance(readings, dict):
            raise ValueError("fault readings must be an object")
        return cls(
            code=str(data["code"]),
            severity=Severity(data["severity"]),
            zone=None if data.get("zone") is None else str(data["zone"]),
            t_s=float(data["t_s"]),
            message=str(data["message"]),
            readings={str(k): _from_json_value(v) for k, v in readings.items()},
        )


_NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def json_ready(v: Any) -> Any:
    """A value strict JSON can carry: non-finite floats as strings, unknown objects as text."""
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [json_ready(x) for x in v]
    if isinstance(v, dict):
        return {str(k): json_ready(x) for k, x in v.items()}
    return str(v)


def _from_json_value(v: Any) -> Any:
    if isinstance(v, str) and v in _NONFINITE:
        return _NONFINITE[v]
    return v

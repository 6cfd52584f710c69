"""The machine's state as every way out sees it: MQTT, the socket, the panel LEDs, ``legctl``.

One typed model instead of a dict whose schema lived in a docstring. The supervisor fills it
(``controller.machine.snapshot``), the hub hands the same object to every reader, and JSON
exists only at the edges (``model_dump(mode="json")`` when publishing, ``model_validate``
when ``legctl`` reads it back). The JSON keys and values are an interface (Home Assistant
templates and scripts read them): add fields, never rename them.

Numbers are finite or None (strict JSON has no NaN): the builder of a state turns a failed
reading into None and rounds each number to the digits ``controller.model.values`` gives it
(``finite_rounded``).
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, computed_field

from controller.model.faults import FAULT_CODES, Severity
from controller.model.notice import Notice


class Mode(StrEnum):
    """What the machine is doing. The runner moves idle → running ⇄ paused → completed |
    stopped | fault; ``lockout`` (a latched lockout fault) shows over the runner's mode, and
    ``starting`` is all there is before the first scan tick."""

    STARTING = "starting"
    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    STOPPED = "stopped"
    FAULT = "fault"
    LOCKOUT = "lockout"

    @property
    def in_session(self) -> bool:
        """A program is on (running or paused): it must be stopped before another starts."""
        return self in SESSION_MODES

    @property
    def ready(self) -> bool:
        """Nothing on and nothing in the way: a program may be started."""
        return self in READY_MODES


SESSION_MODES = frozenset({Mode.RUNNING, Mode.PAUSED})
#: the runner's modes once a session is over (or before one began)
ENDED_MODES = (Mode.IDLE, Mode.COMPLETED, Mode.STOPPED, Mode.FAULT)
READY_MODES = frozenset({Mode.IDLE, Mode.COMPLETED, Mode.STOPPED})

#: every fault code of the fault table, as an enum (``FaultCode.OVERTEMP == "overtemp"``)
FaultCode = StrEnum("FaultCode", {code.upper(): code for code in FAULT_CODES})
FaultCode.__doc__ = "The codes of ``controller.model.faults.FAULT_CODES``."


def finite_rounded(x: float | None, digits: int) -> float | None:
    """None for a missing or non-finite number (strict JSON has no NaN), else rounded."""
    if x is None or not math.isfinite(x):
        return None
    return round(x, digits)


class _Part(BaseModel):
    """A frozen piece of the state. Numbers are finite or None (a NaN is refused: whoever
    builds a state maps a failed reading to None, rounded per ``controller.model.values``).

    Validation is pydantic's own (no Python validators), so building a whole snapshot stays
    cheap enough for the scan cycle, which publishes several a second."""

    # extra="ignore": an older legctl can still read a newer daemon's state
    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)


class PadState(_Part):
    temp_c: float | None
    temp2_c: float | None
    target_c: float | None  # None: the pad is off
    duty: float | None


class ChamberState(_Part):
    pressure_mmhg: float | None
    target_mmhg: float | None
    fill_open: bool
    vent_open: bool


class RollerState(_Part):
    speed: float | None
    current_a: float | None


class FaultState(_Part):
    """An active fault as shown (the evidence readings stay in the fault log)."""

    # A code this version does not know (a log from a newer version) is kept as text, not refused.
    code: Annotated[FaultCode | str, Field(union_mode="left_to_right")]
    severity: Severity
    zone: str | None
    t_s: float
    message: str

    @property
    def stops(self) -> bool:
        """A stop or lockout fault (a warning cuts nothing)."""
        return self.severity is not Severity.WARNING


class SessionSummary(_Part):
    """How the last session ended: which program, how (completed, stopped, fault), after how
    many minutes of therapy (pauses excluded), and why it ended."""

    program: str
    outcome: Mode
    minutes: float
    reason: str | None


class ChamberService(_Part):
    """A chamber's leak-down in the newest session that measured it, at ``LEAK_AT_MMHG``
    (a leak falls with the pressure: scaled to one pressure, sessions compare)."""

    leak_mmhg_per_s: float
    #: how many times the commissioned leak-down (None: not commissioned)
    times_commissioned: float | None = None


class ServiceState(_Part):
    """The service record's account of the pump and the sleeves (``service_record.json``).

    ``pump_percent``: the newest session's pump flow (full-duty fills from a low pressure) as
    a percentage of ``reference`` ("commissioned": this unit's commissioning; "rated": the
    default plant's); ``pump_percent_before`` the oldest session the record keeps, that many
    sessions (``sessions_before``) earlier, so a slow decline shows."""

    pump_percent: float | None = None
    reference: str = "rated"  # "commissioned" or "rated"
    pump_percent_before: float | None = None
    sessions_before: int | None = None
    sessions: int = 0  # sessions in the record
    leaks: dict[str, ChamberService] = {}
    problem: str | None = None  # the record file was damaged and started afresh


#: the pressure a chamber's leak-down is given at (the commissioning's own hold is near it)
LEAK_AT_MMHG = 40.0


class State(_Part):
    """One snapshot of the machine. Field order is the JSON's key order."""

    seq: int
    t_s: float
    mode: Mode
    program: str | None  # the running or paused program's id
    program_name: str | None
    phase: str | None
    phase_index: int | None
    elapsed_s: float
    remaining_s: float | None
    intensity: int | None  # None only before the first tick
    heat_on: bool | None
    profile: dict[str, bool]
    relay_closed: bool
    pump_duty: float | None
    estop: bool
    pads: dict[str, PadState]
    chambers: dict[str, ChamberState]
    rollers: dict[str, RollerState]
    faults: tuple[FaultState, ...]
    lockout: bool
    #: what a start without a program starts (the last one chosen or run)
    selected_program: str | None = None
    #: the last session since the daemon started (None before the first has ended)
    last_session: SessionSummary | None = None
    # the person's profile: confirmed once at the machine; a remote relax waiting for the panel
    # (``{flag: false}``, None when nothing waits); the notices in force, the newest as ``notice``
    profile_confirmed: bool = False
    profile_pending: dict[str, bool] | None = None
    notice: Notice | None = None
    notices: tuple[Notice, ...] = ()
    #: the pump's health and the sleeves' leak-down, from the service record (None: no record yet)
    service: ServiceState | None = None
    #: today's therapy minutes per leg, from the daily record
    minutes_today: dict[str, float] = {}

    @computed_field
    @property
    def problem(self) -> bool:
        """A stop or lockout fault is active."""
        return any(f.stops for f in self.faults)

    @computed_field
    @property
    def problem_text(self) -> str:
        """What is wrong, in the faults' own words ("" when nothing is)."""
        return "; ".join(f.message for f in self.faults if f.stops)

    @computed_field
    @property
    def notice_text(self) -> str:
        """The newest notice in the guide's words ("" when there is none): for templates that
        cannot follow a null ``notice``."""
        return self.notice.text if self.notice is not None else ""

    @computed_field
    @property
    def pump_percent(self) -> float | None:
        """The pump's measured flow, % of its reference (the service record; None: not measured)."""
        return self.service.pump_percent if self.service is not None else None

    @property
    def locked_out(self) -> bool:
        return self.mode is Mode.LOCKOUT or self.lockout

    @property
    def faulted(self) -> bool:
        """In fault, or a stop fault is latched (a warning is not a fault here)."""
        return self.mode is Mode.FAULT or self.problem

    @classmethod
    def starting(cls) -> "State":
        """What the hub shows before the first scan tick: nothing known, nothing on."""
        return cls(seq=0, t_s=0.0, mode=Mode.STARTING, program=None, program_name=None, phase=None,
                   phase_index=None, elapsed_s=0.0, remaining_s=0.0, intensity=None, heat_on=None, profile={},
                   relay_closed=False, pump_duty=0.0, estop=False, pads={}, chambers={}, rollers={}, faults=(),
                   lockout=False)

    def json_ready(self) -> dict[str, Any]:
        """The published form (MQTT ``state``, the socket's ``status`` and ``stream``)."""
        return self.model_dump(mode="json")

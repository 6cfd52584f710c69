"""One command model for every source: panel, MQTT, local socket, command line.

Commands are validated here, at the edge, and reach the machine as typed values through one
queue. Each gets a ``CommandResult``: accepted, or a reason a person understands. Who may send
what is decided here too: remote sources (MQTT) may start, pause, resume, stop and adjust;
only local sources (panel, technician socket, command line) may clear a lockout or drive an
output by hand.
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from controller.model.bounded_json import JsonRefused, loads as bounded_loads, nesting_depth
from controller.model.profile import ALL_KEYS

#: every key ``set_profile`` takes (``controller.model.profile.ALL_KEYS``)
PROFILE_FLAGS = ALL_KEYS


class Source(str, Enum):
    PANEL = "panel"
    SOCKET = "socket"
    MQTT = "mqtt"
    CLI = "cli"

    @property
    def is_local(self) -> bool:
        return self is not Source.MQTT


class CommandError(ValueError):
    """A command was refused before reaching the machine; the text names what was wrong."""


class _Cmd(BaseModel):
    # strict: JSON already has types; "yes" for a bool or "3" for an intensity is a mistake
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)
    id: str | None = Field(None, max_length=64)
    #: only local sources may send commands with this set
    local_only: bool = Field(False, exclude=True)


Intensity = Annotated[int, Field(ge=1, le=5, strict=True)]


ProgramId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]


class Start(_Cmd):
    """Start a program. What the command leaves out, the machine keeps as set: ``program``
    None starts the chosen program (``select_program``, else the last one run), ``intensity``
    and ``heat`` None keep the machine's current settings. (Defaults here used to override
    them: heat switched off and intensity 1, then Start, came back with heat on at 3.)"""

    command: Literal["start"]
    program: ProgramId | None = None
    intensity: Intensity | None = None
    heat: bool | None = None
    #: warm the pads before the first stroke (counts inside the session limit); false skips it
    preheat: bool = True


class SelectProgram(_Cmd):
    """Choose the program that the next ``start`` without a program starts; starts nothing.

    A choice is a setting, like intensity: a scene, an automation or a voice command may set
    it at any time without starting therapy."""

    command: Literal["select_program"]
    program: ProgramId


class Pause(_Cmd):
    command: Literal["pause"]


class Resume(_Cmd):
    command: Literal["resume"]


class Stop(_Cmd):
    command: Literal["stop"]


class ReleaseHold(_Cmd):
    """End a press-and-hold now (the knot let go). Makes the machine gentler, so any source may."""

    command: Literal["release_hold"]


class SkipPreheat(_Cmd):
    """Start the program now, without waiting for the pads to finish warming."""

    command: Literal["skip_preheat"]


class SetIntensity(_Cmd):
    command: Literal["set_intensity"]
    intensity: Intensity


class SetHeat(_Cmd):
    command: Literal["set_heat"]
    on: bool


class SetProfile(_Cmd):
    """Change profile flags (None: unchanged). Raising a flag applies from any source; relaxing
    one needs a person at the machine: from a remote source it waits for a panel confirmation.
    ``wound_or_infection`` and ``numbness_or_poor_circulation`` without a leg mean both legs."""

    command: Literal["set_profile"]
    varicose_veins: bool | None = None
    wound_or_infection: bool | None = None
    suspected_clot: bool | None = None
    pregnancy: bool | None = None
    numbness_or_poor_circulation: bool | None = None
    unsure_or_recent_surgery: bool | None = None
    wound_or_infection_left: bool | None = None
    wound_or_infection_right: bool | None = None
    numbness_or_poor_circulation_left: bool | None = None
    numbness_or_poor_circulation_right: bool | None = None

    def changes(self) -> dict[str, bool]:
        """The flags this command sets, by key (those left out are unchanged)."""
        return {k: getattr(self, k) for k in ALL_KEYS if getattr(self, k) is not None}


class ConfirmProfile(_Cmd):
    """A person at the machine confirms the profile as it is (and any remote change waiting
    for confirmation). The panel sends it on its confirmation gesture; the technician socket
    may too."""

    command: Literal["confirm_profile"]
    local_only: bool = Field(True, exclude=True)


class Ack(_Cmd):
    """Acknowledge stop faults whose cause is gone."""

    command: Literal["ack"]


# --- technician commands: local sources only -------------------------------------------------


class ResetLockout(_Cmd):
    command: Literal["reset_lockout"]
    local_only: bool = Field(True, exclude=True)


class Manual(_Cmd):
    """Drive one output by hand (still through the safety gate). ``value`` None releases it."""

    command: Literal["manual"]
    output: str = Field(max_length=64)
    value: float | None
    local_only: bool = Field(True, exclude=True)


class CalibratePressure(_Cmd):
    command: Literal["calibrate_pressure"]
    local_only: bool = Field(True, exclude=True)


class Autotune(_Cmd):
    command: Literal["autotune"]
    pad: str = Field(max_length=64)
    target_c: float = Field(38.0, ge=30.0, le=42.0)
    local_only: bool = Field(True, exclude=True)


class Commission(_Cmd):
    """Measure this unit (each pad's heating step, each chamber's fill and leak-down) and keep
    it in the state directory; technicians on the local socket only."""

    command: Literal["commission"]
    local_only: bool = Field(True, exclude=True)


class SelfTest(_Cmd):
    command: Literal["selftest"]
    local_only: bool = Field(True, exclude=True)


class SimInject(_Cmd):
    command: Literal["sim_inject"]
    fault: str = Field(max_length=64)
    zone: str | None = Field(None, max_length=64)
    local_only: bool = Field(True, exclude=True)


Command = Annotated[
    Union[Start, SelectProgram, Pause, Resume, Stop, SetIntensity, SetHeat, SetProfile, ConfirmProfile, Ack,
          ResetLockout, Manual, CalibratePressure, Autotune, SelfTest, SimInject, Commission, ReleaseHold,
          SkipPreheat],
    Field(discriminator="command"),
]
COMMAND_NAMES = ("start", "select_program", "pause", "resume", "stop", "set_intensity", "set_heat", "set_profile",
                 "confirm_profile", "ack", "reset_lockout", "manual", "calibrate_pressure", "autotune", "selftest",
                 "sim_inject", "commission", "release_hold", "skip_preheat")
_adapter: TypeAdapter = TypeAdapter(Command)


class CommandResult(BaseModel):
    id: str | None = None
    ok: bool
    error: str | None = None
    data: dict[str, Any] | None = None

    @classmethod
    def accepted(cls, cmd: Any = None, data: dict | None = None) -> "CommandResult":
        return cls(id=getattr(cmd, "id", None), ok=True, data=data)

    @classmethod
    def refused(cls, cmd: Any, reason: str) -> "CommandResult":
        return cls(id=getattr(cmd, "id", None), ok=False, error=reason)


#: a command is a flat object; nothing in one nests deeper than this
MAX_COMMAND_DEPTH = 4


def parse_command(payload: bytes | str | dict, source: Source, max_bytes: int = 4096) -> Any:
    """Validate a raw command from ``source``; raise ``CommandError`` naming what is wrong.

    Never raises anything else, whatever the payload (deep, binary, NaN, huge): the bound on
    size and depth comes before any parse (``bounded_json``)."""
    if isinstance(payload, (bytes, bytearray, memoryview, str)):
        if len(payload) > max_bytes:
            raise CommandError(f"payload too large: {len(payload)} bytes (limit {max_bytes})")
        try:
            payload = bounded_loads(payload, max_bytes=max_bytes, max_depth=MAX_COMMAND_DEPTH)
        except JsonRefused as err:
            raise CommandError(f"payload refused: {err}") from None
    elif isinstance(payload, dict):
        _check_parsed(payload)
    if not isinstance(payload, dict):
        raise CommandError("payload must be a JSON object like {\"command\": \"stop\"}")
    name = payload.get("command")
    if name is None:
        raise CommandError("missing field 'command' (one of: " + ", ".join(COMMAND_NAMES) + ")")
    if name not in COMMAND_NAMES:
        raise CommandError(f"unknown command {name!r} (one of: " + ", ".join(COMMAND_NAMES) + ")")
    if "local_only" in payload:
        raise CommandError("field 'local_only' is not part of a command")
    try:
        cmd = _adapter.validate_python(payload)
    except ValidationError as err:
        raise CommandError(describe_validation_error(err)) from None
    if cmd.local_only and not source.is_local:
        raise CommandError(f"command {name!r} is only accepted from the panel or the technician socket")
    return cmd


def _check_parsed(payload: dict) -> None:
    """An already-parsed command (the socket's): the same depth bound, and no NaN anywhere."""
    try:
        text = json.dumps(payload, allow_nan=False)
    except ValueError:
        raise CommandError("payload refused: numbers must be finite (no NaN or Infinity)") from None
    except RecursionError:
        raise CommandError(f"payload refused: nested deeper than {MAX_COMMAND_DEPTH} levels") from None
    except TypeError as err:
        raise CommandError(f"payload refused: {err}") from None
    if nesting_depth(text, stop_above=MAX_COMMAND_DEPTH) > MAX_COMMAND_DEPTH:
        raise CommandError(f"payload refused: nested deeper than {MAX_COMMAND_DEPTH} levels")


def describe_validation_error(err: ValidationError) -> str:
    parts = []
    for e in err.errors():
        loc = [str(p) for p in e["loc"]]
        if loc and loc[0] in COMMAND_NAMES:  # the discriminator's tag
            loc = loc[1:]
        field = ".".join(loc) or "command"
        if e["type"] == "extra_forbidden":
            parts.append(f"{field}: unknown field")
        else:
            got = e.get("input")
            shown = json.dumps(got)[:40] if isinstance(got, (int, float, str, bool, type(None))) else type(got).__name__
            parts.append(f"{field}: {e['msg'].lower()} (got {shown})")
    return "; ".join(parts)

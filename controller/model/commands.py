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

PROFILE_FLAGS = ("varicose_veins", "wound_or_infection", "suspected_clot", "pregnancy")


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


class Start(_Cmd):
    command: Literal["start"]
    program: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    intensity: Intensity = 3
    heat: bool = True
    #: warm the pads before the first stroke (counts inside the session limit); false skips it
    preheat: bool = True


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
    command: Literal["set_profile"]
    varicose_veins: bool | None = None
    wound_or_infection: bool | None = None
    suspected_clot: bool | None = None
    pregnancy: bool | None = None


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


class SelfTest(_Cmd):
    command: Literal["selftest"]
    local_only: bool = Field(True, exclude=True)


class SimInject(_Cmd):
    command: Literal["sim_inject"]
    fault: str = Field(max_length=64)
    zone: str | None = Field(None, max_length=64)
    local_only: bool = Field(True, exclude=True)


Command = Annotated[
    Union[Start, Pause, Resume, Stop, SetIntensity, SetHeat, SetProfile, Ack,
          ResetLockout, Manual, CalibratePressure, Autotune, SelfTest, SimInject, ReleaseHold, SkipPreheat],
    Field(discriminator="command"),
]
COMMAND_NAMES = ("start", "pause", "resume", "stop", "set_intensity", "set_heat", "set_profile", "ack",
                 "reset_lockout", "manual", "calibrate_pressure", "autotune", "selftest", "sim_inject",
                 "release_hold", "skip_preheat")
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

"""What ``legctl commission`` measured on this unit, kept in ``commissioning.json`` in the
state directory beside the gains.

Per pad: its full-duty heating step (rate, dead time, time constant, and the least rise over
the heating check's window). Per chamber: its fill rate at full pump duty and its leak-down
with the valves shut. The heating check takes its window and required gain from the pad
records (``Commissioning.heating``); the service record compares later sessions' fills and
leaks with the chamber records.

Why a bad file gives "not commissioned" with a warning rather than an error: the
uncommissioned checks and gains are safe on every unit of the envelope, only looser; a
machine that refuses to start over a measurement file helps nobody, and the warning says to
commission again. Each record is validated on load: a value that is not finite and positive
(or outside what any unit of the envelope could show) refuses the whole file.

Format: ``{"version": 1, "measured_at": "<ISO time>", "pads": {"left_calf": {...}, ...},
"chambers": {"left_foot": {...}, ...}}``.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from controller.model.bounded_json import JsonRefused, loads as bounded_loads
from controller.model.limits import PadCommissioning
from controller.storage.atomic_file import write_atomic

log = logging.getLogger("legtherapy.commissioning")

FILE_NAME = "commissioning.json"
VERSION = 1
MAX_FILE_BYTES = 64 * 1024


class CommissioningError(ValueError):
    """A commissioning file was refused; the message says what was wrong."""


@dataclass(frozen=True, slots=True)
class PadRecord:
    """One pad's full-duty step: °C, s, °C/s at ``duty``."""

    duty: float
    start_c: float
    rate_c_per_s: float
    dead_time_s: float
    window_s: float
    rise_c: float
    duration_s: float

    def heating(self) -> PadCommissioning:
        return PadCommissioning(rise_c=self.rise_c, window_s=self.window_s)


@dataclass(frozen=True, slots=True)
class ChamberRecord:
    """One chamber: the fill rate from ``from_mmhg`` to ``to_mmhg`` at full pump duty, and the
    leak-down rate with both valves shut at about ``leak_at_mmhg``."""

    fill_rate_mmhg_per_s: float
    from_mmhg: float
    to_mmhg: float
    leak_mmhg_per_s: float
    leak_at_mmhg: float


@dataclass(frozen=True, slots=True)
class Commissioning:
    measured_at: str | None = None
    pads: dict[str, PadRecord] = field(default_factory=dict)
    chambers: dict[str, ChamberRecord] = field(default_factory=dict)

    def heating(self) -> dict[str, PadCommissioning]:
        """pad -> the heating check's record (what ``HeaterVerification`` takes)."""
        return {pad: rec.heating() for pad, rec in self.pads.items()}


#: field -> (low, high) that a real measurement can show; outside is a corrupt file
_PAD_RANGES = {"duty": (0.0, 1.0), "start_c": (-20.0, 85.0), "rate_c_per_s": (0.0, 10.0),
               "dead_time_s": (-1e-9, 600.0), "window_s": (0.0, 180.0), "rise_c": (0.0, 60.0),
               "duration_s": (0.0, 7200.0)}
_CHAMBER_RANGES = {"fill_rate_mmhg_per_s": (0.0, 1000.0), "from_mmhg": (-20.0, 300.0), "to_mmhg": (0.0, 300.0),
                   "leak_mmhg_per_s": (-1e-9, 100.0), "leak_at_mmhg": (0.0, 300.0)}
_POSITIVE = {"duty", "rate_c_per_s", "window_s", "rise_c", "fill_rate_mmhg_per_s", "to_mmhg"}


def commissioning_path(state_dir: str | os.PathLike) -> Path:
    return Path(state_dir) / FILE_NAME


def parse_commissioning(text: str, pads: Iterable[str], chambers: Iterable[str]) -> Commissioning:
    """The records in the file's text, or ``CommissioningError`` naming the first thing wrong."""
    try:
        data = bounded_loads(text, max_bytes=MAX_FILE_BYTES, max_depth=4)
    except JsonRefused as err:
        raise CommissioningError(str(err)) from None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise CommissioningError(f"not a version {VERSION} commissioning record")
    measured_at = data.get("measured_at")
    if measured_at is not None and not (isinstance(measured_at, str) and len(measured_at) <= 64):
        raise CommissioningError("measured_at is not a time")
    return Commissioning(
        measured_at=measured_at,
        pads=_records(data.get("pads", {}), set(pads), PadRecord, _PAD_RANGES),
        chambers=_records(data.get("chambers", {}), set(chambers), ChamberRecord, _CHAMBER_RANGES))


def _records(table, known: set[str], cls, ranges: Mapping[str, tuple[float, float]]) -> dict:
    if not isinstance(table, dict):
        raise CommissioningError(f"{cls.__name__} table is not an object")
    out = {}
    names = [f.name for f in fields(cls)]
    for zone, entry in table.items():
        if zone not in known:
            raise CommissioningError(f"{zone!r} is not a zone of this machine")
        if not isinstance(entry, dict) or set(entry) != set(names):
            raise CommissioningError(f"{zone}: expected exactly {', '.join(names)}")
        values = {}
        for name in names:
            value = entry[name]
            low, high = ranges[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise CommissioningError(f"{zone}.{name}: {value!r} is not a finite number")
            if not low <= value <= high or (name in _POSITIVE and value <= 0):
                raise CommissioningError(f"{zone}.{name} = {value} is outside what a unit can measure")
            values[name] = float(value)
        out[zone] = cls(**values)
    return out


def load_commissioning(state_dir: str | os.PathLike, pads: Iterable[str], chambers: Iterable[str]) -> Commissioning:
    """The saved records, or an empty ``Commissioning`` (with a warning if a file was refused)."""
    path = commissioning_path(state_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Commissioning()
    except (OSError, UnicodeDecodeError) as err:
        log.warning("commissioning record %s not read (%s): running uncommissioned; commission again", path, err)
        return Commissioning()
    try:
        return parse_commissioning(text, pads, chambers)
    except CommissioningError as err:
        log.warning("commissioning record %s refused: %s; running uncommissioned; commission again", path, err)
        return Commissioning()


def save_commissioning(state_dir: str | os.PathLike, record: Commissioning) -> None:
    """Replace the record, atomically against power loss."""
    directory = Path(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    body = {"version": VERSION, "measured_at": record.measured_at,
            "pads": {p: asdict(r) for p, r in record.pads.items()},
            "chambers": {c: asdict(r) for c, r in record.chambers.items()}}
    write_atomic(commissioning_path(directory), json.dumps(body, indent=1, sort_keys=True) + "\n")

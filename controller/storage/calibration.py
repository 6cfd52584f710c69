"""Pressure-sensor zero offsets, kept in ``pressure_offsets.json`` in the state directory.

Written by ``legctl calibrate pressure`` (all chambers vented), read at start. An offset is the
sensor's reading at atmospheric pressure: a bigger one than ``MAX_PRESSURE_OFFSET_MMHG`` is a
sensor or hose fault, never something to subtract. A file that is garbage, or holds a value
that is not finite or beyond that bound, is refused as a whole with a warning naming what was
wrong: the config's offsets (zero by default) are then used, which is what an uncalibrated
machine does, and the technician is told to calibrate again.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from controller.model.bounded_json import JsonRefused, loads as bounded_loads
from controller.model.config import MAX_PRESSURE_OFFSET_MMHG
from controller.storage.atomic_file import write_atomic

log = logging.getLogger("legtherapy.calibration")

FILE_NAME = "pressure_offsets.json"
#: a calibration file is a few lines; anything bigger is not one
MAX_FILE_BYTES = 16 * 1024


class CalibrationError(ValueError):
    """A calibration file was refused; the message says what was wrong."""


def offsets_path(state_dir: str | os.PathLike) -> Path:
    return Path(state_dir) / FILE_NAME


def parse_offsets(text: str, chambers: Iterable[str]) -> dict[str, float]:
    """Offsets from the file's text, or ``CalibrationError`` naming the first thing wrong."""
    if len(text) > MAX_FILE_BYTES:
        raise CalibrationError(f"{len(text)} bytes, more than a calibration file holds ({MAX_FILE_BYTES})")
    try:
        data = bounded_loads(text, max_bytes=MAX_FILE_BYTES, max_depth=4)
    except JsonRefused as err:
        raise CalibrationError(str(err)) from None
    if not isinstance(data, dict):
        raise CalibrationError("not a JSON object of chamber -> offset")
    known = set(chambers)
    out: dict[str, float] = {}
    for zone, value in data.items():
        if zone not in known:
            raise CalibrationError(f"{zone!r} is not a chamber of this machine")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise CalibrationError(f"{zone}: {value!r} is not a finite number")
        if abs(value) > MAX_PRESSURE_OFFSET_MMHG:
            raise CalibrationError(f"{zone}: offset {value} mmHg is beyond ±{MAX_PRESSURE_OFFSET_MMHG:g} mmHg "
                                   "(a sensor or hose fault, not an offset)")
        out[zone] = float(value)
    return out


def load_pressure_offsets(state_dir: str | os.PathLike, chambers: Iterable[str]) -> dict[str, float]:
    """The saved offsets, or {} (with a warning) when there are none or the file is refused."""
    path = offsets_path(state_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as err:
        log.warning("pressure calibration %s not read (%s): using uncalibrated sensors; calibrate again", path, err)
        return {}
    try:
        return parse_offsets(text, chambers)
    except CalibrationError as err:
        log.warning("pressure calibration %s refused: %s; using uncalibrated sensors; calibrate again", path, err)
        return {}


def save_pressure_offsets(state_dir: str | os.PathLike, offsets: Mapping[str, float]) -> None:
    write_atomic(offsets_path(state_dir), json.dumps(dict(offsets), indent=1))

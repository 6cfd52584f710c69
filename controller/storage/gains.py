"""Autotuned PID gains per pad, kept in ``pid_gains.json`` in the state directory.

Why atomic (temp file in the same directory, fsync, ``os.replace``, fsync the directory): the
machine may lose power at any moment, and a half-written gains file must never be what the
next boot reads. Why a bad file gives the defaults with a warning instead of an error: the
defaults control every pad safely (only a little less tightly than tuned gains), and a machine
that refuses to start over a tuning file helps nobody; the warning tells the technician to
tune again. Only finite, non-negative gains are taken from the file.

Format: ``{"version": 1, "pads": {"left_calf": {"kp": .., "ki": .., "kd": ..}, ...}}``.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable
from pathlib import Path

from controller.model.bounded_json import loads as bounded_loads
from controller.storage.atomic_file import write_atomic

log = logging.getLogger("legtherapy.gains")

FILE_NAME = "pid_gains.json"
VERSION = 1
#: a gains file is a few lines; anything bigger is not one
MAX_FILE_BYTES = 64 * 1024

Gains = tuple[float, float, float]


def gains_path(state_dir: str | os.PathLike) -> Path:
    return Path(state_dir) / FILE_NAME


def load_gains(state_dir: str | os.PathLike, pads: Iterable[str], default: Gains) -> dict[str, Gains]:
    """Every pad's gains: the saved ones where valid, ``default`` for the rest. Never raises."""
    pads = list(pads)
    default = _as_gains(default)
    out = {pad: default for pad in pads}
    path = gains_path(state_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return out
    except (OSError, UnicodeDecodeError) as err:
        log.warning("cannot read %s (%s): using the default PID gains for every pad", path, err)
        return out
    try:
        saved = bounded_loads(text, max_bytes=MAX_FILE_BYTES)["pads"]  # JsonRefused is a ValueError
        if not isinstance(saved, dict):
            raise TypeError("'pads' is not a table")
    except (ValueError, KeyError, TypeError) as err:
        log.warning("%s is corrupt (%s): using the default PID gains for every pad", path, err)
        return out
    for pad in pads:
        if pad not in saved:
            continue
        try:
            entry = saved[pad]
            out[pad] = _as_gains((entry["kp"], entry["ki"], entry["kd"]))
        except (KeyError, TypeError, ValueError) as err:
            log.warning("%s: gains for %s are invalid (%s): using the defaults for it", path, pad, err)
    return out


def save_gains(state_dir: str | os.PathLike, pad: str, gains: Gains) -> None:
    """Store one pad's gains, keeping the others; atomic against power loss."""
    kp, ki, kd = _as_gains(gains)
    directory = Path(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = gains_path(directory)
    pads: dict[str, dict[str, float]] = {}
    try:
        current = bounded_loads(path.read_text(encoding="utf-8"), max_bytes=MAX_FILE_BYTES).get("pads", {})
        if isinstance(current, dict):
            pads = {k: v for k, v in current.items() if isinstance(v, dict)}
    except FileNotFoundError:
        pass
    except (OSError, ValueError, AttributeError) as err:
        log.warning("%s is unreadable (%s): rewriting it with only %s", path, err, pad)
    pads[pad] = {"kp": kp, "ki": ki, "kd": kd}
    write_atomic(path, json.dumps({"version": VERSION, "pads": pads}, indent=1, sort_keys=True) + "\n")


def _as_gains(values) -> Gains:
    kp, ki, kd = (float(v) for v in values)
    for name, v in (("kp", kp), ("ki", ki), ("kd", kd)):
        if not math.isfinite(v) or v < 0.0:
            raise ValueError(f"{name} = {v} is not a finite, non-negative gain")
    return kp, ki, kd

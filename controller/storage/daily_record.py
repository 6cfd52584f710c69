"""The per-leg daily record: minutes, programs and intensity, one entry a leg a day.

The guide's dose is "5 to 10 minutes per leg daily"; the record is what lets the machine (and
``legctl history``) say how much each leg has had. It lives in the state directory as one
JSON file, ``daily_record.json``, kept in memory and rewritten whole after each session:
atomically (``write_atomic``: the old or the new file, never half of each) and off the scan
cycle (``write_behind``: an fsync on a worn SD card can take longer than a tick).

The file is bounded before it is parsed (``bounded_json``) and validated; a file that cannot be
read is set aside as ``daily_record.json.bad`` and the record starts afresh: a lost history is a
nuisance, never a hazard (it gates nothing, it informs). Only the last ``KEEP_DAYS`` days are
kept, so the file stays small.

Days are calendar days on the machine's wall clock (``today`` is injected for tests): the one
place in the controller where the date matters, and it controls nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path
from typing import Callable

from pydantic import BaseModel, ConfigDict, Field

from controller.model.config import Leg
from controller.storage import write_behind
from controller.storage.atomic_file import write_atomic
from controller.storage.record_file import load_record

log = logging.getLogger("legtherapy.daily_record")

FILE_NAME = "daily_record.json"
KEEP_DAYS = 90
#: ~90 days x 2 legs x a few sessions: well under this
MAX_FILE_BYTES = 512 * 1024
MAX_DEPTH = 6  # {"days": {day: {leg: {"programs": [..]}}}}
#: sessions a leg-day keeps the program and intensity of (the minutes always add up)
MAX_SESSIONS_A_DAY = 50


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class LegDay(_Strict):
    """One leg on one day."""

    minutes: float = Field(0.0, ge=0.0)
    sessions: int = Field(0, ge=0)
    programs: list[str] = Field(default_factory=list, max_length=MAX_SESSIONS_A_DAY)
    intensities: list[int] = Field(default_factory=list, max_length=MAX_SESSIONS_A_DAY)
    strokes: int = Field(0, ge=0)


class RecordFile(_Strict):
    days: dict[str, dict[Leg, LegDay]] = Field(default_factory=dict)


class DailyRecord:
    def __init__(self, state_dir: str | os.PathLike, today: Callable[[], dt.date] = dt.date.today) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / FILE_NAME
        self.today = today
        self._record, _problem = load_record(self.path, RecordFile, what="daily record",
                                             max_bytes=MAX_FILE_BYTES, max_depth=MAX_DEPTH)

    def add_session(self, *, legs: list[str], minutes: float, program: str, intensity: int,
                    strokes: dict[str, int]) -> dict[str, float]:
        """Add a session's minutes to each leg's day; return today's minutes per leg."""
        day = self.today().isoformat()
        today = self._record.days.setdefault(day, {})
        for leg in legs:
            entry = today.setdefault(leg, LegDay())
            entry.minutes += max(0.0, minutes)
            entry.sessions += 1
            entry.strokes += max(0, strokes.get(leg, 0))
            if len(entry.programs) < MAX_SESSIONS_A_DAY:
                entry.programs.append(program)
                entry.intensities.append(intensity)
        for old in sorted(self._record.days)[:-KEEP_DAYS]:
            del self._record.days[old]
        text = self._record.model_dump_json(indent=1)
        write_behind.for_directory(self.dir).submit(
            lambda: write_atomic(self.path, text),
            lambda err: log.error("daily record not written to %s: %s", self.path, err))
        return {leg: entry.minutes for leg, entry in today.items()}

    def minutes_today(self) -> dict[str, float]:
        return {leg: e.minutes for leg, e in self._record.days.get(self.today().isoformat(), {}).items()}

    def history(self, days: int = 14) -> list[dict]:
        """The newest ``days`` days, newest first: one row a leg a day (the socket's ``history``)."""
        rows = []
        for day in sorted(self._record.days, reverse=True)[:days]:
            for leg, e in sorted(self._record.days[day].items()):
                rows.append({"day": day, "leg": leg, **e.model_dump()})
        return rows

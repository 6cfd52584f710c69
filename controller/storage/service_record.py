"""The service record: per session, per chamber, what the pump and the sleeves measured.

Pumps wear and sleeves start to leak slowly; a machine that only notices when a fill falls
short has already cost therapy. So every ordinary session measures, per chamber, its fill rate
at full pump duty from a low pressure and its leak-down with both valves shut
(``controller.machine.recorders.ServiceMeter``), and the record keeps the last
``KEEP_SESSIONS`` sessions in ``service_record.json`` in the state directory, so a slow decline
is visible (``legctl status``, the state's ``service``, Home Assistant's "Pump health").

**Pump health** is a fill's measured rate over the band it covered at full duty (from
``FILL_FROM_MMHG``, below ``FILL_TO_MMHG``) relative to what the reference unit gives over the
same band: the commissioned chamber (``commissioning.json``) when the unit was commissioned,
else the chamber of the default plant (``sim/default_params.toml``, "rated"). A fill's rate
falls as the pressure rises (the pump's flow falls with back pressure, the leak grows), so a
band is compared with the same band: the reference's curve over pressure is the default
plant's first-order fill (``RATED``), scaled for a commissioned unit by its own measured rate
over its commissioning band. A session's pump health is the median over its chambers of each
chamber's median fill, in percent: one kinked hose does not make the pump look weak. An
uncommissioned unit with larger sleeves than the default reads a lower "rated" percentage
(the fill rate cannot tell volume from flow): commission it.

**Leak-down** is the pressure lost per second with both valves shut, divided by the pressure
(a leak through a fixed opening is proportional to it), so holds at different pressures
compare; it is shown at ``LEAK_AT_MMHG`` and against the commissioned leak-down.

The file is written atomically off the scan cycle (``write_behind``), bounded before it is
parsed, and validated; a damaged file is set aside as ``service_record.json.bad``, reported
(``problem``: the log and ``legctl status``) and the record starts afresh: the record informs,
it gates nothing, so a lost history is a nuisance, never a hazard. Sessions that measured
nothing (heat only, or every fill too short) are not recorded: they would push measured
sessions out of the window.
"""

from __future__ import annotations

import logging
import math
import os
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from controller.model.state import LEAK_AT_MMHG, ChamberService, ServiceState
from controller.storage import write_behind
from controller.storage.atomic_file import write_atomic
from controller.storage.record_file import load_record
from controller.storage.commissioning import ChamberRecord, Commissioning

log = logging.getLogger("legtherapy.service_record")

FILE_NAME = "service_record.json"
VERSION = 1
#: sessions kept: at a session a day, seven weeks, enough to see a pump wear
KEEP_SESSIONS = 50
#: 50 sessions x 6 chambers x ~150 bytes: well under this
MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 6
#: ``legctl status`` compares the newest session with the one this many measured sessions before
#: (or the oldest kept, if fewer)
COMPARE_BACK = 20

#: a fill is measured from this pressure (as commissioning measures: past the valve's opening)
FILL_FROM_MMHG = 5.0
#: ... up to the first reading at or above this (commissioning's top), or where full duty ended
FILL_TO_MMHG = 40.0
#: a shorter band is too few mmHg against the sensor noise (±0.4 mmHg): not measured
FILL_MIN_BAND_MMHG = 15.0
#: a session's measurement is judged mid-session once this many fills were measured
PUMP_WEAK_MIN_FILLS = 3

Reference = Literal["commissioned", "rated"]


class _RatedChamber:
    """A chamber of the default plant filled at full duty: ``dp/dt = (final − p) / tau``.

    From ``sim/default_params.toml``: pump 5 L/min free flow, 300 mmHg stall, behind the fill
    valve (0.008 L/(s·mmHg)) in series: g_in = 2.685e-4 L/(s·mmHg); leak g_l; compliance C =
    volume/120 L/mmHg. final = 300·g_in/(g_in+g_l), tau = C/(g_in+g_l)."""

    __slots__ = ("final_mmhg", "tau_s")

    def __init__(self, final_mmhg: float, tau_s: float) -> None:
        self.final_mmhg = final_mmhg
        self.tau_s = tau_s

    def rate(self, from_mmhg: float, to_mmhg: float) -> float:
        """The mean fill rate (mmHg/s) from ``from_mmhg`` to ``to_mmhg``."""
        f = self.final_mmhg
        if to_mmhg <= from_mmhg or to_mmhg >= f:
            return math.nan
        return (to_mmhg - from_mmhg) / (self.tau_s * math.log((f - from_mmhg) / (f - to_mmhg)))


_G_IN = (5.0 / 60.0 / 300.0) * 0.008 / (5.0 / 60.0 / 300.0 + 0.008)


def _rated(volume_l: float, leak: float) -> _RatedChamber:
    g = _G_IN + leak
    return _RatedChamber(300.0 * _G_IN / g, volume_l / 120.0 / g)


#: chamber position -> the default plant's chamber (foot ≈ 16, calf ≈ 8, thigh ≈ 5.4 mmHg/s from 0)
RATED: dict[str, _RatedChamber] = {"foot": _rated(0.6, 5.0e-5), "calf": _rated(1.2, 1.0e-4),
                                   "thigh": _rated(1.8, 1.5e-4)}


def reference_rate(position: str, from_mmhg: float, to_mmhg: float,
                   commissioned: ChamberRecord | None) -> float:
    """What the reference chamber fills at over this band (mmHg/s; NaN: no reference)."""
    rated = RATED.get(position)
    if rated is None:
        return math.nan
    band = rated.rate(from_mmhg, to_mmhg)
    if commissioned is None:
        return band
    own = rated.rate(commissioned.from_mmhg, commissioned.to_mmhg)
    return commissioned.fill_rate_mmhg_per_s * band / own


def reference_of(commissioning: Commissioning, chambers: Mapping[str, str]) -> Reference:
    """ "commissioned" when every chamber (zone -> position) has a commissioned record."""
    return "commissioned" if chambers and all(z in commissioning.chambers for z in chambers) else "rated"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class ChamberEntry(_Strict):
    """One chamber in one session."""

    fills: int = Field(0, ge=0)  # full-duty fills measured
    #: median of (measured rate / reference rate over the same band)
    fill_ratio: float | None = Field(None, gt=0.0, le=10.0)
    fill_rate_mmhg_per_s: float | None = Field(None, gt=0.0, le=1000.0)  # median measured rate
    leak_per_s: float | None = Field(None, ge=0.0, le=10.0)  # mmHg lost per s per mmHg held
    leak_s: float = Field(0.0, ge=0.0)  # seconds of holds the leak-down was measured over


class SessionEntry(_Strict):
    ended_at: str = Field(max_length=40)  # wall-clock ISO time (informs; controls nothing)
    program: str | None = Field(None, max_length=64)
    reference: Reference
    pump_percent: float | None = Field(None, ge=0.0, le=1000.0)
    chambers: dict[str, ChamberEntry] = Field(default_factory=dict, max_length=32)


class ServiceFile(_Strict):
    version: Literal[1] = VERSION
    sessions: list[SessionEntry] = Field(default_factory=list, max_length=KEEP_SESSIONS)


def pump_percent_of(chambers: Mapping[str, ChamberEntry]) -> float | None:
    """The session's pump health: the median over chambers of their fill ratio, in percent."""
    ratios = [c.fill_ratio for c in chambers.values() if c.fill_ratio is not None]
    return round(100.0 * statistics.median(ratios), 1) if ratios else None


class ServiceRecord:
    """The record in memory, rewritten whole (atomically, off the scan cycle) after a session."""

    def __init__(self, state_dir: str | os.PathLike) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / FILE_NAME
        self._record, self.problem = load_record(self.path, ServiceFile, what="service record",
                                                 max_bytes=MAX_FILE_BYTES, max_depth=MAX_DEPTH)

    @property
    def sessions(self) -> list[SessionEntry]:
        return list(self._record.sessions)

    def add_session(self, entry: SessionEntry) -> None:
        """Keep the session (the oldest beyond ``KEEP_SESSIONS`` go) and write the file."""
        sessions = self._record.sessions
        sessions.append(entry)
        del sessions[:-KEEP_SESSIONS]
        text = self._record.model_dump_json(indent=1)
        write_behind.for_directory(self.dir).submit(
            lambda: write_atomic(self.path, text),
            lambda err: log.error("service record not written to %s: %s", self.path, err))

    def summary(self, commissioning: Commissioning) -> ServiceState | None:
        """What the state shows (None: nothing measured yet and nothing wrong)."""
        sessions = self._record.sessions
        if not sessions:
            return ServiceState(problem=self.problem) if self.problem else None
        measured = [s for s in sessions if s.pump_percent is not None]
        newest = measured[-1] if measured else None
        before, back = None, None
        if len(measured) > 1:
            back = min(COMPARE_BACK, len(measured) - 1)
            before = measured[-1 - back]
        leaks: dict[str, ChamberService] = {}
        for session in reversed(sessions):  # each chamber's newest leak-down
            for zone, c in session.chambers.items():
                if zone in leaks or c.leak_per_s is None:
                    continue
                record = commissioning.chambers.get(zone)
                times = None
                if record is not None and record.leak_mmhg_per_s > 0 and record.leak_at_mmhg > 0:
                    times = round(c.leak_per_s / (record.leak_mmhg_per_s / record.leak_at_mmhg), 2)
                leaks[zone] = ChamberService(leak_mmhg_per_s=round(c.leak_per_s * LEAK_AT_MMHG, 2),
                                             times_commissioned=times)
        return ServiceState(
            pump_percent=newest.pump_percent if newest else None,
            reference=newest.reference if newest else sessions[-1].reference,
            pump_percent_before=before.pump_percent if before else None,
            sessions_before=back,
            sessions=len(sessions), leaks=leaks, problem=self.problem)

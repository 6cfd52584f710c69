"""The service record on the machine: measure each session, keep it, warn when the pump is weak.

The supervisor hands it every tick's record (``observe``) and tells it when a session starts
and ends; it answers with the ``pump_weak`` warning when there is one to raise: mid-session,
once ``PUMP_WEAK_MIN_FILLS`` fills measured the pump below its threshold
(``controller.model.faults.pump_weak_below``: 75 % of the commissioned flow, 50 % of the rated
fill rate uncommissioned), or at the session's end; at most once a session. Which reference ("commissioned"
or "rated") and how the health is worked out: ``controller.storage.service_record``.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Callable

from controller.machine.recorders import ServiceMeter
from controller.machine.snapshot import TickRecord
from controller.model.config import MachineConfig
from controller.model.faults import Fault, pump_weak_below
from controller.model.notice import Notice, NoticeCode, make as make_notice
from controller.model.state import ServiceState
from controller.storage import service_record as sr
from controller.storage.commissioning import Commissioning


class ServiceKeeper:
    def __init__(self, config: MachineConfig, state_dir: str | os.PathLike, commissioning: Commissioning,
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.timezone.utc)) -> None:
        self.positions = {c.zone: c.position for c in config.chambers}
        self.record = sr.ServiceRecord(state_dir)
        self.now = now  # wall clock, for the record's ``ended_at`` only
        self.commissioning = commissioning
        self.meter = ServiceMeter(self.positions, config.compression.pump_max_duty, self._reference_rate)
        self._warned = False
        self._measured = 0
        self.summary: ServiceState | None = self.record.summary(commissioning)
        #: ``pump_measured()``, kept current (the scan cycle reads it every tick)
        self.pump_now = self.pump_measured()

    @property
    def reference(self) -> sr.Reference:
        return sr.reference_of(self.commissioning, self.positions)

    def set_commissioning(self, commissioning: Commissioning) -> None:
        """A new commissioning: later fills compare with it (the kept sessions keep theirs)."""
        self.commissioning = commissioning
        self.summary = self.record.summary(commissioning)
        self.pump_now = self.pump_measured()

    def _reference_rate(self, zone: str, from_mmhg: float, to_mmhg: float) -> float:
        return sr.reference_rate(self.positions[zone], from_mmhg, to_mmhg, self.commissioning.chambers.get(zone))

    def pump_measured(self) -> tuple[float, str] | None:
        """The pump's flow as best known now: this session's, else the record's newest."""
        percent = self.meter.pump_percent()
        if percent is not None:
            return percent, self.reference
        summary = self.summary
        if summary is not None and summary.pump_percent is not None:
            return summary.pump_percent, summary.reference
        return None

    def session_started(self) -> None:
        self.meter.start()
        self._warned = False
        self._measured = 0
        self.pump_now = self.pump_measured()

    def observe(self, rec: TickRecord) -> tuple[Fault, Notice] | None:
        """Measure this tick; the warning when the session's fills just showed a weak pump."""
        self.meter(rec)
        if self.meter.fills_measured == self._measured:
            return None
        self._measured = self.meter.fills_measured
        self.pump_now = self.pump_measured()
        if self._measured < sr.PUMP_WEAK_MIN_FILLS:
            return None
        return self._judge(self.meter.pump_percent(), rec.t_s)

    def session_ended(self, program: str | None, now_s: float) -> tuple[Fault, Notice] | None:
        """Keep the session's measurements; the warning if its pump was weak (and not said yet)."""
        chambers = self.meter.chambers()
        if not chambers:
            return None
        percent = sr.pump_percent_of(chambers)
        self.record.add_session(sr.SessionEntry(
            ended_at=self.now().isoformat(timespec="seconds"), program=program, reference=self.reference,
            pump_percent=percent, chambers=chambers))
        self.summary = self.record.summary(self.commissioning)
        self.pump_now = self.pump_measured()
        return self._judge(percent, now_s)

    def _judge(self, percent: float | None, now_s: float) -> tuple[Fault, Notice] | None:
        threshold = pump_weak_below(self.reference)
        if self._warned or percent is None or percent >= threshold:
            return None
        self._warned = True
        text = f"pump delivers {percent:.0f} % of its {self.reference} flow: service the pump"
        fault = Fault.make("pump_weak", None, now_s, text,
                           {"pump_percent": percent, "reference": self.reference,
                            "threshold_percent": round(threshold, 1)})
        return fault, make_notice(NoticeCode.PUMP_SERVICE, text)

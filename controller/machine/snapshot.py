"""One tick's record, and the ``State`` snapshot the supervisor publishes from it.

The record is what the recorders (trace, report) consume; the ``State`` is what every way out
reads (MQTT, the socket, the panel). Rounding and non-finite readings are the model's job
(``controller.model.state``), so this only says which value goes where.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.model.faults import Fault
from controller.model.outputs import Outputs
from controller.model.readings import Readings
from controller.model.state import ChamberState, FaultState, Mode, PadState, RollerState, State


@dataclass(frozen=True, slots=True)
class TickRecord:
    """Everything one scan tick saw and did: what recorders (trace, report) consume."""

    t_s: float
    mode: Mode
    readings: Readings
    outputs: Outputs  # as the gate wrote them
    heat_targets_c: dict[str, float | None]
    pressure_targets_mmhg: dict[str, float]
    fault_codes: tuple[str, ...]
    new_faults: tuple  # Fault objects raised this tick


def build_snapshot(seq: int, rec: TickRecord, runner, faults: list[Fault], lockout: bool,
                   program_name: str | None) -> State:
    """The published state for this tick (``runner``: the ``controller.control.runner.Runner``)."""
    r, o = rec.readings, rec.outputs
    in_session = Mode(rec.mode).in_session
    phase = runner.phase
    return State(
        seq=seq,
        t_s=rec.t_s,
        mode=Mode.LOCKOUT if lockout else rec.mode,
        program=runner.program.id if runner.program is not None and in_session else None,
        program_name=program_name,
        phase=phase.name if phase is not None and in_session else None,
        phase_index=runner.phase_index if in_session else None,
        elapsed_s=runner.elapsed_s(rec.t_s) if in_session else 0.0,
        remaining_s=runner.remaining_s(rec.t_s),
        intensity=runner.intensity,
        heat_on=runner.heat_on,
        profile=runner.profile.model_dump(),
        relay_closed=o.relay_closed,
        pump_duty=o.pump_duty,
        estop=r.estop_tripped,
        pads={z: PadState(temp_c=pr.temp_c, temp2_c=pr.temp2_c, target_c=rec.heat_targets_c.get(z),
                          duty=o.heater_duty.get(z, 0.0))
              for z, pr in r.pads.items()},
        chambers={z: ChamberState(pressure_mmhg=p, target_mmhg=rec.pressure_targets_mmhg.get(z, 0.0),
                                  fill_open=o.fill_open.get(z, False), vent_open=o.vent_open.get(z, True))
                  for z, p in r.pressure_mmhg.items()},
        rollers={z: RollerState(speed=o.roller_speed.get(z, 0.0), current_a=a)
                 for z, a in r.roller_current_a.items()},
        faults=tuple(FaultState.of(f) for f in faults),
        lockout=lockout,
    )

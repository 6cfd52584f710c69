"""One tick's record, and the ``State`` snapshot the supervisor publishes from it.

The record is what the recorders (trace, report) consume; the ``State`` is what every way out
reads (MQTT, the socket, the panel). This says which value goes where, rounded to the digits
``controller.model.values`` gives each (a failed reading, NaN or infinite, becomes None), and
validates the whole snapshot in one call, which keeps it cheap for the scan cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from controller.model.faults import Fault
from controller.model.outputs import Outputs
from controller.model.readings import Readings
from controller.model.state import Mode, ServiceState, State, finite_rounded
from controller.model.values import CHAMBER_VALUES, MACHINE_VALUES, PAD_VALUES, ROLLER_VALUES, digits_of

_PAD, _CHAMBER, _ROLLER, _MACHINE = (digits_of(v) for v in (PAD_VALUES, CHAMBER_VALUES, ROLLER_VALUES,
                                                           MACHINE_VALUES))
_FAULT_T_DIGITS = 3


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
    phase_changed: bool = False  # the program moved to another phase (or ended) this tick
    strokes: Mapping[str, int] = field(default_factory=dict)  # completed upward waves per leg, since start


def build_snapshot(seq: int, rec: TickRecord, runner, faults: list[Fault], lockout: bool,
                   program_name: str | None, *, profiles=None, notices=None, service: ServiceState | None = None,
                   minutes_today: Mapping[str, float] | None = None) -> State:
    """The published state for this tick (``runner``: the ``controller.control.runner.Runner``;
    ``profiles``: the ``ProfileKeeper``, ``notices``: the ``NoticeBoard``, when there are;
    ``service``: the service record's summary; ``minutes_today``: the daily record's per leg)."""
    r, o = rec.readings, rec.outputs
    in_session = Mode(rec.mode).in_session
    phase = runner.phase
    num = finite_rounded
    pad, chamber, roller, machine = _PAD, _CHAMBER, _ROLLER, _MACHINE
    heat_targets, pressure_targets = rec.heat_targets_c, rec.pressure_targets_mmhg
    return State.model_validate({
        "seq": seq,
        "t_s": num(rec.t_s, machine["t_s"]),
        "mode": Mode.LOCKOUT if lockout else rec.mode,
        "program": runner.program.id if runner.program is not None and in_session else None,
        "program_name": program_name,
        "phase": phase.name if phase is not None and in_session else None,
        "phase_index": runner.phase_index if in_session else None,
        "elapsed_s": num(runner.elapsed_s(rec.t_s), machine["elapsed_s"]) if in_session else 0.0,
        "remaining_s": num(runner.remaining_s(rec.t_s), machine["remaining_s"]),
        "intensity": runner.intensity,
        "heat_on": runner.heat_on,
        "profile": runner.profile.flags(),
        "relay_closed": o.relay_closed,
        "pump_duty": num(o.pump_duty, machine["pump_duty"]),
        "estop": r.estop_tripped,
        "pads": {z: {"temp_c": num(pr.temp_c, pad["temp_c"]), "temp2_c": num(pr.temp2_c, pad["temp2_c"]),
                     "target_c": num(heat_targets.get(z), pad["target_c"]),
                     "duty": num(o.heater_duty.get(z, 0.0), pad["duty"])}
                 for z, pr in r.pads.items()},
        "chambers": {z: {"pressure_mmhg": num(p, chamber["pressure_mmhg"]),
                         "target_mmhg": num(pressure_targets.get(z, 0.0), chamber["target_mmhg"]),
                         "fill_open": o.fill_open.get(z, False), "vent_open": o.vent_open.get(z, True)}
                     for z, p in r.pressure_mmhg.items()},
        "rollers": {z: {"speed": num(o.roller_speed.get(z, 0.0), roller["speed"]),
                        "current_a": num(a, roller["current_a"])}
                    for z, a in r.roller_current_a.items()},
        "faults": [{"code": f.code, "severity": f.severity, "zone": f.zone, "t_s": round(f.t_s, _FAULT_T_DIGITS),
                    "message": f.message} for f in faults],
        "lockout": lockout,
        "selected_program": runner.selected_program,
        "last_session": _last_session(runner),
        "profile_confirmed": profiles.confirmed if profiles is not None else False,
        "profile_pending": profiles.pending_flags() if profiles is not None else None,
        "notice": notices.latest if notices is not None else None,
        "notices": tuple(notices.in_force) if notices is not None else (),
        "service": service,
        "minutes_today": {leg: round(m, machine["minutes_today"]) for leg, m in (minutes_today or {}).items()},
    })


def _last_session(runner) -> dict | None:
    ended = runner.sessions_ended
    if not ended:
        return None
    last = ended[-1]
    return {"program": last.program, "outcome": last.outcome, "minutes": round(last.elapsed_s / 60.0, 1),
            "reason": last.reason}

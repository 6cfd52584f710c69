"""The state snapshot published to MQTT, the socket and the panel, and one tick's record.

Kept JSON-ready (plain dicts, finite floats or None) so every interface can send it as is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from controller.model.outputs import Outputs
from controller.model.readings import Readings


def _num(x: float, digits: int = 2) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, digits)


@dataclass(frozen=True, slots=True)
class TickRecord:
    """Everything one scan tick saw and did: what recorders (trace, report) consume."""

    t_s: float
    mode: str
    readings: Readings
    outputs: Outputs  # as the gate wrote them
    heat_targets_c: dict[str, float | None]
    pressure_targets_mmhg: dict[str, float]
    fault_codes: tuple[str, ...]
    new_faults: tuple  # Fault objects raised this tick
    phase_changed: bool = False  # the program moved to another phase (or ended) this tick


def build_snapshot(seq: int, rec: TickRecord, runner, faults: list, lockout: bool,
                   program_name: str | None) -> dict:
    r = rec.readings
    o = rec.outputs
    pads = {
        z: {"temp_c": _num(pr.temp_c), "temp2_c": _num(pr.temp2_c),
            "target_c": _num(rec.heat_targets_c.get(z)) if rec.heat_targets_c.get(z) is not None else None,
            "duty": _num(o.heater_duty.get(z, 0.0), 3)}
        for z, pr in r.pads.items()
    }
    chambers = {
        z: {"pressure_mmhg": _num(p, 1), "target_mmhg": _num(rec.pressure_targets_mmhg.get(z, 0.0), 1),
            "fill_open": o.fill_open.get(z, False), "vent_open": o.vent_open.get(z, True)}
        for z, p in r.pressure_mmhg.items()
    }
    rollers = {z: {"speed": _num(o.roller_speed.get(z, 0.0), 3), "current_a": _num(a, 3)}
               for z, a in r.roller_current_a.items()}
    fault_dicts = [{"code": f.code, "severity": f.severity.value, "zone": f.zone, "t_s": round(f.t_s, 3),
                    "message": f.message} for f in faults]
    gating = [f for f in fault_dicts if f["severity"] != "warning"]
    mode = "lockout" if lockout else rec.mode
    phase = runner.phase
    return {
        "seq": seq,
        "t_s": round(rec.t_s, 3),
        "mode": mode,
        "program": runner.program.id if runner.program is not None and rec.mode in ("running", "paused") else None,
        "program_name": program_name,
        "phase": phase.name if phase is not None and rec.mode in ("running", "paused") else None,
        "phase_index": runner.phase_index if rec.mode in ("running", "paused") else None,
        "elapsed_s": round(runner.elapsed_s(rec.t_s), 1) if rec.mode in ("running", "paused") else 0.0,
        "remaining_s": round(runner.remaining_s(rec.t_s), 1),
        "intensity": runner.intensity,
        "heat_on": runner.heat_on,
        "profile": runner.profile.model_dump(),
        "relay_closed": o.relay_closed,
        "pump_duty": _num(o.pump_duty, 3),
        "estop": r.estop_tripped,
        "pads": pads,
        "chambers": chambers,
        "rollers": rollers,
        "faults": fault_dicts,
        "lockout": lockout,
        "problem": bool(gating),
        "problem_text": "; ".join(f["message"] for f in gating) if gating else "",
    }

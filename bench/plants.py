"""Plant matrix (issue: the hardware-variation envelope): every built-in program on every
shipped plant (sim/plants/*.toml, and the default unit) under ``--speed 0``, in-process.

Per run: how the session ended (and the exit code ``run --exit-when-done`` gives), the worst
pad overshoot and steady error, the worst pressure shortfall and the short fills, and the
warnings and faults raised. A unit inside the envelope should complete every program; where
physics makes a pressure unreachable, a ``pressure_shortfall`` warning must say so.

Cost: a 20-minute program takes ~8 s; the matrix (9 programs, 113 min of programs, on 9
plants) a few minutes.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from bench.control import _opts, _run
from controller.app.cli import session_exit_code
from programs.library import load_library
from controller.model.config import load_config
from sim.params import load_sim_params, shipped_plants

INTENSITY = 5  # the deepest pressures: where a weak pump or leaky sleeve shows
STEADY_WINDOW_S = 600.0  # steady error: the last 10 minutes of a pad's longest constant target


def _pad_observer():
    """Per pad, (t, temp, target) on thermal ticks while running."""
    samples: dict[str, list[tuple[float, float, float | None]]] = {}

    def observe(rec):
        if not rec.readings.thermal_fresh or rec.mode != "running":
            return
        for zone, reading in rec.readings.pads.items():
            samples.setdefault(zone, []).append((rec.t_s, reading.temp_c, rec.heat_targets_c.get(zone)))
    return samples, observe


def steady_error_c(series: list[tuple[float, float, float | None]]) -> float | None:
    """Largest |error| over the last STEADY_WINDOW_S (or the last half, if shorter) of the
    longest stretch at one target; None if the pad never had a target."""
    best: tuple[float, int, int] | None = None
    start = 0
    for i in range(1, len(series) + 1):
        if i == len(series) or series[i][2] != series[start][2]:
            if series[start][2] is not None:
                length = series[i - 1][0] - series[start][0]
                if best is None or length > best[0]:
                    best = (length, start, i)
            start = i
    if best is None:
        return None
    length, first, end = best
    from_t = series[end - 1][0] - min(STEADY_WINDOW_S, length / 2)
    errors = [abs(temp - target) for t, temp, target in series[first:end] if t >= from_t and math.isfinite(temp)]
    return max(errors) if errors else None


def one_run(tmp: Path, program: str, plant: str, params) -> dict:
    samples, observe = _pad_observer()

    async def during(sup):
        sup.observers.append(observe)

    res = _run(_opts(tmp, program=program, intensity=INTENSITY, exit_when_done=True, sim_params_override=params),
               during)
    report = res.report
    pads, chambers = report["pads"].values(), report["chambers"].values()
    steady = [e for e in (steady_error_c(s) for s in samples.values()) if e is not None]
    warnings = sorted({f"{f['code']}:{f['zone']}" for f in report["faults"] if f["severity"] == "warning"})
    faults = sorted({f["code"] for f in report["faults"] if f["severity"] != "warning"})
    return {"program": program, "plant": plant, "outcome": report["outcome"],
            "exit_code": session_exit_code(report),
            "pad_overshoot_c": max((p["overshoot_c"] for p in pads), default=None),
            "pad_steady_error_c": round(max(steady), 3) if steady else None,
            "worst_shortfall_mmhg": max((c["worst_shortfall_mmhg"] for c in chambers), default=None),
            "short_fills": sum(c["fills_short"] for c in chambers),
            "fills_cut_short": sum(c["fills_cut_short"] for c in chambers),
            "fills": sum(c["fills"] for c in chambers),
            "warnings": " ".join(warnings) or None, "faults": " ".join(faults) or None}


def run(programs: list[str] | None = None, plants: list[str] | None = None) -> dict:
    cfg = load_config()
    library, _problems = load_library(None, cfg.limits)
    program_ids = programs or sorted(library)
    files = {"default": None, **shipped_plants()}
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for plant in plants or list(files):
            params = load_sim_params(files[plant])
            for i, program in enumerate(program_ids):
                rows.append(one_run(Path(d) / f"{plant}-{i}", program, plant, params))
    return {"plants": rows}

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


def _pad_observer():
    """Per pad, (t, temp, target) on thermal ticks while running."""
    samples: dict[str, list[tuple[float, float, float | None]]] = {}

    def observe(rec):
        if not rec.readings.thermal_fresh or rec.mode != "running":
            return
        for zone, reading in rec.readings.pads.items():
            samples.setdefault(zone, []).append((rec.t_s, reading.temp_c, rec.heat_targets_c.get(zone)))
    return samples, observe


SETTLED_BAND_C = 0.5  # a pad is at its target once it comes this close
SETTLE_S = 60.0  # and steady this long after that (the PID's approach is not its steady error)
MIN_STRETCH_S = 120.0  # shorter stretches at one target are transitions, not steady states


def _stretches(series: list[tuple[float, float, float | None]]) -> list[list[tuple[float, float, float]]]:
    """The runs of samples at one (non-None) target lasting at least MIN_STRETCH_S."""
    out, run = [], []
    for sample in series + [(math.inf, math.nan, None)]:
        if run and sample[2] != run[0][2]:
            if run[0][2] is not None and run[-1][0] - run[0][0] >= MIN_STRETCH_S:
                out.append(run)
            run = []
        run.append(sample)
    return out


def steady_error_c(series: list[tuple[float, float, float | None]]) -> tuple[float | None, int]:
    """(Largest |error| from SETTLE_S after the pad first came within SETTLED_BAND_C of its target, over every
    stretch at one target; how many stretches never came that close). A stretch still rising
    (a heavy pad on a short step) is counted apart rather than reported as a steady error."""
    worst, unsettled = None, 0
    for run in _stretches(series):
        target = run[0][2]
        settled_at = next((i for i, (_t, temp, _) in enumerate(run) if abs(temp - target) <= SETTLED_BAND_C), None)
        if settled_at is None:
            unsettled += 1
            continue
        from_t = run[settled_at][0] + SETTLE_S
        errors = [abs(temp - target) for t, temp, _ in run[settled_at:] if t >= from_t and math.isfinite(temp)]
        if errors:
            worst = max(errors) if worst is None else max(worst, max(errors))
    return worst, unsettled


def one_run(tmp: Path, program: str, plant: str, params) -> dict:
    samples, observe = _pad_observer()

    async def during(sup):
        sup.observers.append(observe)

    res = _run(_opts(tmp, program=program, intensity=INTENSITY, exit_when_done=True, sim_params_override=params),
               during)
    report = res.report
    pads, chambers = report["pads"].values(), report["chambers"].values()
    judged = [steady_error_c(s) for s in samples.values()]
    steady = [e for e, _ in judged if e is not None]
    warnings = sorted({f"{f['code']}:{f['zone']}" for f in report["faults"] if f["severity"] == "warning"})
    faults = sorted({f["code"] for f in report["faults"] if f["severity"] != "warning"})
    return {"program": program, "plant": plant, "outcome": report["outcome"],
            "exit_code": session_exit_code(report),
            "pad_overshoot_c": max((p["overshoot_c"] for p in pads), default=None),
            "pad_steady_error_c": round(max(steady), 3) if steady else None,
            "pad_steps_short_of_target": sum(n for _, n in judged),
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

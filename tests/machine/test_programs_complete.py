"""Every built-in program completes on the simulator, inside the limits, with every wave in
foot → calf → thigh order — judged from what the valves did — and makes exactly the upward
strokes its description states, counted from the trace's pressures.

Here on the default unit at intensities 1, 3 and 5 (the lightest, the default, the deepest);
intensities 2 and 4 run on the envelope's corner units with the same checks
(``test_strokes_across_plants.py``), so every program runs at every intensity. The runs are
shared with the other tests that judge a default-unit session (``simrun.shared_run``)."""

import re

import pytest

from controller.model.config import load_config
from programs.library import load_library
from tests.machine.simrun import shared_run

CFG = load_config()
PROGRAMS, _ = load_library(None, CFG.limits)
POS = {"foot": 0, "calf": 1, "thigh": 2}
LEGS = {leg: [c.zone for c in CFG.chambers_of_leg(leg)] for leg in ("left", "right")}


def fill_order_violations(rows) -> list[str]:
    """Within one cycle of a leg (from all-vented to all-vented), the first fill of each chamber
    must come in distal → proximal order. Top-ups of a chamber already filled are fine."""
    problems = []
    for leg, zones in LEGS.items():
        started: list[str] = []
        prev_fill = {z: False for z in zones}
        for row in rows:
            vented = all(row[f"chamber.{z}.vent_open"] == "1" and row[f"chamber.{z}.fill_open"] == "0" for z in zones)
            if vented:
                started = []
            for z in zones:
                fill = row[f"chamber.{z}.fill_open"] == "1"
                if fill and not prev_fill[z] and z not in started:
                    if started and POS[z.split("_")[1]] < POS[started[-1].split("_")[1]]:
                        problems.append(f"t={row['t_s']}: {z} filled after {started[-1]} in one wave")
                    started.append(z)
                prev_fill[z] = fill
    return problems


def gradient_violations(rows, tol_mmhg=2.0) -> list[str]:
    problems = []
    for leg, zones in LEGS.items():
        for row in rows:
            p = [float(row[f"chamber.{z}.pressure_mmhg"]) for z in zones]
            for distal, proximal, zd, zp in ((p[0], p[1], zones[0], zones[1]), (p[1], p[2], zones[1], zones[2])):
                if proximal > distal + tol_mmhg and proximal > 5.0:
                    problems.append(f"t={row['t_s']}: {zp} {proximal:.1f} > {zd} {distal:.1f} mmHg")
    return problems


def short_waves(rows, program, tol_mmhg=3.0, phase_end_margin_s=1.5) -> list[str]:
    """Every fill, from its valve opening to the chamber's next vent, reaches its target
    (within tol), unless a phase change or the end of the session cut it short."""
    ends, t = [], 0.0
    for phase in PROGRAMS[program].phases:
        t += phase.duration_s
        ends.append(t)
    problems = []
    for z in CFG.chamber_names:
        wave = None
        for row in rows:
            if row[f"chamber.{z}.fill_open"] == "1" and wave is None:
                wave = {"t": float(row["t_s"]), "peak": 0.0, "target": 0.0}
            if wave is None:
                continue
            wave["peak"] = max(wave["peak"], float(row[f"chamber.{z}.pressure_mmhg"]))
            wave["target"] = max(wave["target"], float(row[f"chamber.{z}.target_mmhg"] or 0.0))
            if row[f"chamber.{z}.vent_open"] == "1":
                t_vent = float(row["t_s"])
                cut = any(wave["t"] < end <= t_vent + phase_end_margin_s for end in ends)
                if not cut and wave["peak"] < wave["target"] - tol_mmhg:
                    problems.append(f"{z} wave from t={wave['t']:.1f} s peaked at {wave['peak']:.1f} of "
                                    f"{wave['target']:.1f} mmHg")
                wave = None
    return problems


NUMBER_WORDS = {"ten": 10}
STROKES_STATED = re.compile(r"\b(\d+|ten) (?:light )?upward strokes per leg\b")


def stated_strokes(program) -> int:
    """The number of upward strokes per leg the program's description states."""
    found = STROKES_STATED.findall(program.summary)
    assert len(found) == 1, f"{program.id}: the summary must state its strokes per leg once: {program.summary!r}"
    word = found[0]
    return int(word) if word.isdigit() else NUMBER_WORDS[word]


def strokes_from_pressures(rows, program, band_mmhg=3.0) -> dict[str, int]:
    """Completed upward strokes per leg, from the pressure and target columns alone: in a wave
    phase, each fill of the wave's most proximal chamber that comes within ``band_mmhg`` of its
    target (the order foot → calf → thigh is checked by ``fill_order_violations``)."""
    t0 = float(rows[0]["t_s"])
    spans, t = [], 0.0
    for phase in program.phases:
        comp = phase.compression
        if comp is not None and comp.pattern == "wave":
            spans.append((t, t + phase.duration_s, comp.chambers[-1]))
        t += phase.duration_s
    counts = {}
    for leg in LEGS:
        n, counted, last_target = 0, False, 0.0
        for row in rows:
            t = float(row["t_s"]) - t0
            span = next((s for s in spans if s[0] <= t < s[1]), None)
            if span is None:
                counted, last_target = False, 0.0
                continue
            zone = next(z for z in LEGS[leg] if z.endswith("_" + span[2]))
            target = float(row[f"chamber.{zone}.target_mmhg"] or 0.0)
            if target != last_target:  # a new fill (or a vent)
                counted = False
            last_target = target
            if target > 0 and not counted and float(row[f"chamber.{zone}.pressure_mmhg"]) >= target - band_mmhg:
                n += 1
                counted = True
        counts[leg] = n
    return counts


def peaks_inside_limits(program: str, report: dict) -> list[str]:
    """Pads under the heat cap (+0.6 °C) and chambers under the program's pressure cap
    (+3 mmHg), from the report's peaks."""
    limits = CFG.limits
    max_p = limits.lymphatic_max_pressure_mmhg if PROGRAMS[program].category == "lymphatic" else limits.max_pressure_mmhg
    problems = [f"{zone} peaked at {pad['peak_c']} °C" for zone, pad in report["pads"].items()
                if pad["peak_c"] is not None and not pad["peak_c"] < limits.max_heat_target_c + 0.6]
    problems += [f"{zone} peaked at {ch['peak_mmhg']} mmHg" for zone, ch in report["chambers"].items()
                 if not ch["peak_mmhg"] <= max_p + 3.0]
    return problems


def fill_and_vent_together(rows) -> list[str]:
    """Outputs as written that opened a chamber's fill and vent together (every row of a
    short trace, evenly spread rows of a long one)."""
    return [f"t={row['t_s']}: {z}" for row in rows[:: max(1, len(rows) // 2000)] for z in CFG.chamber_names
            if row[f"chamber.{z}.fill_open"] == "1" and row[f"chamber.{z}.vent_open"] == "1"]


@pytest.mark.parametrize("intensity", [1, 3, 5])
@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_program_completes_safely(tmp_path_factory, program, intensity):
    result, rows = shared_run(tmp_path_factory, program, intensity)
    report = result.report
    assert report["outcome"] == "completed", report["faults"]
    assert report["faults"] == []
    assert report["duration_s"] == pytest.approx(PROGRAMS[program].duration_s, abs=0.1)
    assert peaks_inside_limits(program, report) == []
    assert fill_order_violations(rows) == []
    assert gradient_violations(rows)[:5] == []
    assert short_waves(rows, program)[:5] == []
    # the strokes the description states: in the phases' files, in the trace column, in the pressures
    prog = PROGRAMS[program]
    stated = stated_strokes(prog)
    assert sum(p.compression.strokes or 0 for p in prog.phases if p.compression is not None) == stated
    assert {leg: int(rows[-1][f"strokes.{leg}"]) for leg in LEGS} == {"left": stated, "right": stated}
    assert strokes_from_pressures(rows, prog) == {"left": stated, "right": stated}
    assert fill_and_vent_together(rows) == []

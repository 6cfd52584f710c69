"""The pads pre-heat while the person settles, so the first strokes begin on warm pads; the
pre-heat counts inside the session limit, and the person can skip it."""

import asyncio

import pytest

from controller.control.runner import PREHEAT_PHASE_NAME, Runner
from controller.model.commands import SkipPreheat, Source
from programs.schema import CompressionSpec, Phase, Program
from tests.machine.simrun import run_sim
from tests.machine.test_programs_complete import CFG, PROGRAMS

BAND_C = CFG.therapy.preheat_band_c


def first_fill(rows):
    t0 = float(rows[0]["t_s"])
    for r in rows:
        if any(r[f"chamber.{z}.fill_open"] == "1" for z in CFG.chamber_names):
            return float(r["t_s"]) - t0, r
    raise AssertionError("no fill")


def test_warm_up_strokes_begin_on_warm_pads(tmp_path):
    result, rows = run_sim(tmp_path, program="warm_up", intensity=3, preheat=True)
    assert result.report["outcome"] == "completed", result.report["faults"]
    t, row = first_fill(rows)
    assert t > 10.0  # the pads warmed first
    for pad in CFG.pad_names:
        target = float(row[f"pad.{pad}.target_c"])
        assert float(row[f"pad.{pad}.temp_c"]) >= target - BAND_C - 0.3, pad
    # the whole program still ran after it, inside the session
    assert result.report["duration_s"] == pytest.approx(PROGRAMS["warm_up"].duration_s + t, abs=2.0)
    assert t <= CFG.therapy.preheat_max_s + 1.0


def test_without_preheat_the_strokes_begin_at_once(tmp_path):
    result, rows = run_sim(tmp_path, program="warm_up", intensity=3, preheat=False, max_runtime_s=20.0)
    assert first_fill(rows)[0] < 2.0


def test_skip_preheat_starts_the_program_now(tmp_path):
    seen = {}

    async def during(sup):
        await asyncio.sleep(3.0)
        seen["phase"] = sup.runner.phase.name
        seen["skip"] = await sup.hub.submit(SkipPreheat(command="skip_preheat"), Source.MQTT)
        await asyncio.sleep(0.5)
        seen["phase_after"] = sup.runner.phase.name

    result, rows = run_sim(tmp_path, program="warm_up", preheat=True, max_runtime_s=30.0, during=during)
    assert seen["phase"] == PREHEAT_PHASE_NAME and seen["skip"].ok
    assert seen["phase_after"] == PROGRAMS["warm_up"].phases[0].name
    assert first_fill(rows)[0] < 6.0


def test_preheat_is_capped_by_the_session_limit():
    limit = CFG.limits.max_session_s
    wave = CompressionSpec(pattern="wave", chambers=["foot", "calf"], pressure_mmhg={"foot": 40, "calf": 34},
                           hold_s=2.0, rest_s=4.0)
    long = Program(id="long", name="long", summary="long", category="circulation",
                   phases=[Phase(name="a", duration_s=limit - 60.0, heat_c={"calf": 40.0}, compression=wave)])
    runner = Runner(CFG, {"long": long})
    ok, *_ = runner.start("long", 3, True, 0.0)
    assert ok and runner.preheating
    cold = {p: 20.0 for p in CFG.pad_names}
    t = 0.0
    while runner.preheating:
        t += 1.0
        runner.step(t, cold)
    assert t <= 60.0  # the pads never warmed, but program + pre-heat stay inside the limit
    assert runner.remaining_s(t) + runner.elapsed_s(t) <= limit

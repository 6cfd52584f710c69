"""Calf focus's press and hold: held until the person presses a button (or release_hold), or
just short of the 60 s hold limit, whichever first."""

import asyncio

from controller.model.commands import Pause, ReleaseHold, Source
from tests.machine.simrun import run_sim, shared_run
from tests.machine.test_programs_complete import CFG, PROGRAMS

PRESS_START_S = sum(p.duration_s for p in PROGRAMS["calf_focus"].phases[:2])
CALVES = [c.zone for c in CFG.chambers if c.position == "calf"]


def held(sup) -> bool:
    return sup.compression.holding_for_release and all(
        sup.pressure_targets[z] > 0 and sup.last_readings.pressure_mmhg[z] >= sup.pressure_targets[z] - 3.0
        for z in CALVES)


async def wait_until(predicate, limit_s: float) -> None:
    for _ in range(int(limit_s / 0.1)):
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not reached")


def test_release_hold_ends_the_press_at_once_and_the_next_one_follows(tmp_path):
    seen = {}

    async def during(sup):
        await asyncio.sleep(PRESS_START_S)
        await wait_until(lambda: held(sup), 60.0)
        await asyncio.sleep(5.0)
        seen["result"] = await sup.hub.submit(ReleaseHold(command="release_hold"), Source.MQTT)
        seen["released_at"] = asyncio.get_running_loop().time()
        await asyncio.sleep(1.0)
        seen["vents_after_1s"] = {z: sup.last_outputs.vent_open[z] for z in CALVES}
        seen["holding"] = sup.compression.holding_for_release
        await wait_until(lambda: held(sup), 60.0)  # the next press follows after the rest
        seen["again_at"] = asyncio.get_running_loop().time()
        seen["panel"] = await sup.hub.submit(Pause(command="pause"), Source.PANEL)
        seen["mode_after_panel"] = sup.runner.mode
        seen["nothing"] = await sup.hub.submit(ReleaseHold(command="release_hold"), Source.MQTT)

    result, _ = run_sim(tmp_path, program="calf_focus", intensity=3, trace=False, during=during)
    assert result.report["outcome"] == "completed", result.report["faults"]
    assert seen["result"].ok, seen["result"]
    assert all(seen["vents_after_1s"].values()) and not seen["holding"]
    assert seen["again_at"] - seen["released_at"] < 30.0
    # the panel's start/pause button releases the hold rather than pausing the session
    assert seen["panel"].ok and seen["panel"].data == {"note": "hold released"}
    assert seen["mode_after_panel"] == "running"
    assert not seen["nothing"].ok and "nothing is being held" in seen["nothing"].error


def test_an_unreleased_press_ends_before_the_hold_limit(tmp_path_factory):
    result, rows = shared_run(tmp_path_factory, "calf_focus", 5)
    assert result.report["outcome"] == "completed", result.report["faults"]
    t0 = float(rows[0]["t_s"])
    press = [r for r in rows if PRESS_START_S <= float(r["t_s"]) - t0 < PRESS_START_S + 120.0]
    longest, since = 0.0, None
    for r in press:
        t = float(r["t_s"])
        closed = r[f"chamber.{CALVES[0]}.vent_open"] == "0"
        if closed and since is None:
            since = t
        elif not closed and since is not None:
            longest, since = max(longest, t - since), None
    # held for most of a minute (no one pressed), and vented before the 60 s limit
    assert 40.0 < longest < CFG.limits.max_hold_s, longest

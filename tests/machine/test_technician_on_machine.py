"""Technician operations on the running (simulated) machine: autotune drives the pad as its
control law on the thermal ticks, and a stop or a fault hands the pad back to its PID at once."""

import asyncio
import pathlib

import pytest

from controller.control.heat import PidControl
from controller.model.commands import Source, parse_command
from tests.machine.simrun import run_sim

PAD = "left_calf"


async def send(sup, payload):
    return await sup.hub.submit(parse_command(payload, Source.SOCKET), Source.SOCKET, timeout=None)


def drive(tmp_path, script, max_runtime_s=600.0):
    """Run ``script`` beside the machine; every tick as (t_s, pad duty written, pad reading, new
    fault codes, whether the pad's control stepped this tick)."""
    out, ticks = {}, []

    async def during(sup):
        sup.observers.append(lambda rec: ticks.append(
            (rec.t_s, rec.outputs.heater_duty[PAD], rec.readings.pads[PAD].temp_c, {f.code for f in rec.new_faults},
             PAD in sup.heat_stepped)))
        try:
            await script(sup, out)
        finally:
            sup.stop()

    run_sim(tmp_path, max_runtime_s=max_runtime_s, during=during, trace=False)
    return out, ticks


def gains_saved(tmp_path) -> bool:
    return (pathlib.Path(tmp_path) / "state" / "pid_gains.json").exists()


def test_autotune_switches_the_heater_in_the_tick_of_the_reading_not_a_tick_later(tmp_path):
    async def script(sup, out):
        out["result"] = await send(sup, {"command": "autotune", "pad": PAD, "target_c": 38.0})
        out["law_after"] = sup.heat.control(PAD)

    out, ticks = drive(tmp_path, script, max_runtime_s=2400.0)
    assert out["result"].ok, out["result"].error
    assert isinstance(out["law_after"], PidControl)
    # the pad is read every 4th tick and its control steps every 12th, on a tick that read it:
    # the first step that sees the target switches the heater off in that very tick
    first_hot = next(i for i, (_, _, temp, _, stepped) in enumerate(ticks) if stepped and temp >= 38.0)
    assert ticks[first_hot - 1][1] == 1.0  # heating up to that reading ...
    assert ticks[first_hot][1] == 0.0  # ... and off in the same tick as the reading that reached the target
    assert ticks[first_hot][0] - ticks[first_hot - 12][0] == pytest.approx(0.24)  # the step's cadence kept
    assert ticks[first_hot - 12][4] and not any(t[4] for t in ticks[first_hot - 11:first_hot])
    assert gains_saved(tmp_path)


def test_a_stop_calls_autotune_off_and_the_heater_stays_off(tmp_path):
    async def script(sup, out):
        loop = asyncio.get_running_loop()
        tune = asyncio.ensure_future(send(sup, {"command": "autotune", "pad": PAD}))
        await asyncio.sleep(30.0)  # warming at full duty toward the target
        out["stop"] = await send(sup, {"command": "stop"})
        out["stopped_at"] = loop.time()
        out["tune"] = await tune
        out["law"] = sup.heat.control(PAD)
        await asyncio.sleep(60.0)  # long after: nothing set the heater again

    out, ticks = drive(tmp_path, script)
    assert out["stop"].ok and "technician operation stopped" in out["stop"].data["note"]
    assert not out["tune"].ok and "interrupted by a stop command" in out["tune"].error
    assert isinstance(out["law"], PidControl)
    before = [duty for t, duty, *_ in ticks if out["stopped_at"] - 1.0 <= t < out["stopped_at"] - 0.1]
    after = [duty for t, duty, *_ in ticks if t >= out["stopped_at"]]
    assert before and set(before) == {1.0}
    assert after and set(after) == {0.0}
    assert not gains_saved(tmp_path)


def test_a_fault_the_gate_does_not_extend_to_heat_still_ends_autotune_in_its_own_tick(tmp_path):
    """A roller jam cuts only the rollers at the gate; the heater goes off because the tune is
    called off and the pad handed back to its (idle) PID in that same tick."""

    async def script(sup, out):
        tune = asyncio.ensure_future(send(sup, {"command": "autotune", "pad": PAD}))
        await asyncio.sleep(20.0)
        assert (await send(sup, {"command": "manual", "output": f"roller:{PAD}", "value": 0.5})).ok
        sup.sim.inject_now("roller_stall", PAD)
        out["tune"] = await tune
        out["law"] = sup.heat.control(PAD)
        await asyncio.sleep(10.0)

    out, ticks = drive(tmp_path, script)
    assert not out["tune"].ok and "interrupted by a fault" in out["tune"].error
    assert isinstance(out["law"], PidControl)
    fault_tick = next(i for i, (_, _, _, new, _) in enumerate(ticks) if "roller_overcurrent" in new)
    assert ticks[fault_tick - 1][1] == 1.0
    assert all(duty == 0.0 for _, duty, *_ in ticks[fault_tick:])
    assert not gains_saved(tmp_path)

"""The button panel on the simulated board: mock pins pressed and released (with bounce and a
held button) drive the real machine with no network at all."""

import asyncio

from controller.model.config import load_config
from controller.app.daemon import RunOptions, run_fast


def run_with_panel(tmp_path, script):
    out = {}
    opts = RunOptions(config=load_config(), state_dir=str(tmp_path / "state"), sim=True, mqtt=False,
                      socket_path=None, panel=True, max_runtime_s=600)

    async def during(sup):
        try:
            await script(sup, out)
        finally:
            sup.stop()

    run_fast(opts, during)
    return out


async def press(sim, name, hold_s=0.1, bounce=False):
    if bounce:  # contact chatter: a burst of edges within a few milliseconds
        for _ in range(4):
            sim.press_button(name)
            await asyncio.sleep(0.002)
            sim.release_button(name)
            await asyncio.sleep(0.002)
    sim.press_button(name)
    await asyncio.sleep(hold_s)
    sim.release_button(name)
    await asyncio.sleep(0.2)


def test_start_pause_resume_stop_from_the_panel(tmp_path):
    async def script(sup, out):
        await asyncio.sleep(0.5)
        await press(sup.sim, "start_pause", bounce=True)
        out["after_start"] = sup.runner.mode
        out["program"] = sup.runner.program.id if sup.runner.program else None
        await asyncio.sleep(3.0)
        out["preheating"] = sup.runner.preheating
        if out["preheating"]:  # start/pause during the pre-heat skips it (the person is settled)
            await press(sup.sim, "start_pause")
            out["after_skip"] = (sup.runner.mode, sup.runner.preheating)
        out["running_leds"] = await sample_leds(sup)
        await press(sup.sim, "start_pause")
        out["after_pause"] = sup.runner.mode
        out["paused_leds"] = await sample_leds(sup)
        await press(sup.sim, "start_pause")
        out["after_resume"] = sup.runner.mode
        await press(sup.sim, "stop")
        out["after_stop"] = sup.runner.mode
        out["stopped_leds"] = await sample_leds(sup)

    out = run_with_panel(tmp_path, script)
    assert out["after_start"] == "running" and out["program"]
    if out["preheating"]:
        assert out["after_skip"] == ("running", False)
    assert out["after_pause"] == "paused"
    assert out["after_resume"] == "running"
    assert out["after_stop"] == "stopped"
    # README (panel): running = run steady; paused = pause steady; idle = run LED flashing
    # (a 0.2 s flash every 2 s); no fault LED without a fault
    running, paused, stopped = out["running_leds"], out["paused_leds"], out["stopped_leds"]
    assert all(running["run"]) and not any(running["pause"]) and not any(running["fault"])
    assert all(paused["pause"]) and not any(paused["run"]) and not any(paused["fault"])
    assert 0.05 <= sum(stopped["run"]) / len(stopped["run"]) <= 0.15, "a short flash, not steady or dark"
    assert not any(stopped["pause"]) and not any(stopped["fault"])


async def sample_leds(sup, seconds: float = 4.0, every_s: float = 0.05) -> dict[str, list[bool]]:
    """What the LED pins on the expander show, sampled over two idle-flash periods."""
    pins = sup.config.board.leds.model_dump()  # name -> expander pin
    seen: dict[str, list[bool]] = {name: [] for name in pins}
    for _ in range(int(seconds / every_s)):
        await asyncio.sleep(every_s)
        driven = sup.sim.expander.driven_pins  # the chip's latch, not the driver's idea of it
        for name, pin in pins.items():
            seen[name].append(bool(driven >> pin & 1))
    return seen


def test_intensity_buttons_and_a_held_stop_acknowledges_a_fault(tmp_path):
    async def script(sup, out):
        await asyncio.sleep(0.5)
        await press(sup.sim, "intensity_up")
        await press(sup.sim, "intensity_up")
        await press(sup.sim, "start_pause")
        out["intensity"] = sup.runner.intensity
        sup.sim.inject_now("estop")
        await asyncio.sleep(0.5)
        out["mode_fault"] = sup.runner.mode
        out["fault_led_seen"] = False
        for _ in range(20):  # the fault LED blinks at 2 Hz
            out["fault_led_seen"] |= sup.board.leds["fault"].is_on
            await asyncio.sleep(0.05)
        sup.sim.release_estop()
        await asyncio.sleep(0.2)
        await press(sup.sim, "stop", hold_s=2.0)  # held: stop at once, then acknowledge
        out["mode_after_ack"] = sup.runner.mode

    out = run_with_panel(tmp_path, script)
    assert out["intensity"] == 5
    assert out["mode_fault"] == "fault" and out["fault_led_seen"]
    assert out["mode_after_ack"] == "idle"

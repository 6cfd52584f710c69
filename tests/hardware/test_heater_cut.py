"""Pi issue 1 and hostile-input issue 6: a heat fault or a stop leaves the heater *pin* low on
the same tick, on a simulator whose pins behave as lgpio's (software PWM that applies a new duty
only at the end of its cycle, whole-percent duty)."""

import asyncio

from gpiozero import PWMOutputDevice

from controller.app.daemon import RunOptions, run_fast
from controller.model.commands import Source, Stop
from controller.model.config import load_config
from sim.gpio import SimPinFactory


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_the_sim_models_lgpio_pwm_a_cut_waits_for_the_end_of_the_cycle():
    """Why the heater no longer uses gpiozero's PWM: at 0.5 Hz a cut reaches the pin up to 2 s
    late, and a duty under 1 % is 0."""
    clock = Clock()
    factory = SimPinFactory(clock)
    heater = PWMOutputDevice(9, frequency=0.5, initial_value=0.0, pin_factory=factory)
    pin = factory.pin(9)
    clock.t += 0.3
    heater.value = 1.0  # applied at the end of the running 2 s cycle
    assert pin.level() == "low"
    clock.t = 102.0
    assert pin.level() == "high"
    clock.t = 102.5
    heater.value = 0.0  # the cut: the command is 0 at once...
    assert heater.value == 0.0
    for t in (102.52, 103.0, 103.9):
        clock.t = t
        assert pin.level() == "high"  # ...the pin is not, until the cycle ends
    clock.t = 104.0
    assert pin.level() == "low"
    heater.value = 0.004
    clock.t = 110.0
    assert pin.pwm_duty() == 0.0  # gpiozero hands lgpio whole percent
    heater.close()


def _run_watching_heaters(tmp_path, act):
    """warm_up on the simulator; ``act(sup)`` once the pads heat; every tick's record with the
    heater pins' levels as the tick left them."""
    cfg = load_config()
    ticks = []
    opts = RunOptions(config=cfg, state_dir=str(tmp_path / "state"), sim=True, mqtt=False, socket_path=None,
                      panel=False, max_runtime_s=40, program="warm_up")

    async def during(sup):
        def watch(record):
            levels = {p.zone: sup.sim.pin_level(p.heater_pin) for p in cfg.pads}
            ticks.append((record, levels))

        sup.observers.append(watch)
        await asyncio.sleep(5.0)
        while not any(levels["left_foot"] == "high" for _, levels in ticks[-1:]):
            await asyncio.sleep(0.02)  # act while a heater pin is high
        await act(sup)
        await asyncio.sleep(1.0)
        sup.stop()

    run_fast(opts, during)
    return ticks


def test_a_heat_fault_leaves_every_heater_pin_low_on_the_tick_it_is_raised(tmp_path):
    async def cut_a_sensor(sup):
        sup.sim.inject_now("temp_sensor_open", "left_foot")

    ticks = _run_watching_heaters(tmp_path, cut_a_sensor)
    [(i, record)] = [(i, r) for i, (r, _) in enumerate(ticks) if any(f.family == "heat" for f in r.new_faults)][:1]
    assert ticks[i - 1][1]["left_foot"] == "high"  # heating until the fault...
    assert set(ticks[i][1].values()) == {"low"}  # ...and every pin low on the fault's own tick
    assert all(set(levels.values()) == {"low"} for _, levels in ticks[i:])


def test_a_stop_cuts_the_heater_pins_on_the_tick_it_is_taken(tmp_path):
    async def stop(sup):
        await sup.hub.submit(Stop(command="stop"), Source.CLI, timeout=None)

    ticks = _run_watching_heaters(tmp_path, stop)
    i = next(i for i, (r, _) in enumerate(ticks) if r.mode.value != "running")
    assert ticks[i - 1][1]["left_foot"] == "high"
    record, levels = ticks[i]
    assert set(record.outputs.heater_duty.values()) == {0.0}  # the duty, not only the pin
    assert set(levels.values()) == {"low"}
    assert all(set(lv.values()) == {"low"} for _, lv in ticks[i:])

"""Heat pads on the simulated pad at 4 Hz: warm to target fast, no overshoot, stable when slow.

The gains here are the tuned defaults (the lead copies them into HeatControl); they are passed
explicitly so the test checks these numbers whatever the config file says today.
"""

import math

import pytest

from controller.model.config import HeatControl
from controller.control.heat import HeatController
from sim.params import PadParams
from sim.thermal import PadThermal

TUNED = HeatControl()  # the shipped defaults must be the tuned gains
GAINS = (TUNED.kp, TUNED.ki, TUNED.kd)
DT_S = 0.25  # the PID runs at 4 Hz and the duty is held between updates
PAD = "left_calf"


def slow_pad() -> PadParams:
    return PadParams().slower(2.0)


def full_power_time_s(params: PadParams, reach_c: float) -> float:
    pad = PadThermal(params, 22.0)
    t = 0.0
    while pad.thermistor_c < reach_c:
        pad.step(DT_S, 1.0)
        t += DT_S
    return t


def warm_up(params: PadParams, target_c: float = 40.0, seconds: float = 900.0, heat_cfg=TUNED, gains=GAINS):
    """(time, thermistor °C, duty) at every PID update, from 22 °C."""
    pad = PadThermal(params, 22.0)
    heat = HeatController([PAD], {PAD: gains}, heat_cfg)
    trace = []
    t = 0.0
    while t < seconds:
        duty = heat.step({PAD: pad.thermistor_c}, {PAD: target_c}, t)[PAD]
        pad.step(DT_S, duty)
        t += DT_S
        trace.append((t, pad.thermistor_c, duty))
    return trace


def figures(trace, target_c=40.0, settle_from_s=600.0):
    rise_s = next(t for t, temp, _ in trace if temp >= target_c - 0.5)
    overshoot_c = max(temp for _, temp, _ in trace) - target_c
    late = [temp for t, temp, _ in trace if t >= settle_from_s]
    steady_error_c = max(abs(temp - target_c) for temp in late)
    swing_c = max(late) - min(late)
    return rise_s, overshoot_c, steady_error_c, swing_c


def test_tuned_gains_warm_the_pad_to_40c_without_overshoot_nearly_as_fast_as_full_power():
    rise_s, overshoot_c, steady_error_c, _ = figures(warm_up(PadParams()))
    full_s = full_power_time_s(PadParams(), 40.0 - 0.5)
    assert overshoot_c <= 0.5
    assert steady_error_c <= 0.2
    assert rise_s <= 1.3 * full_s, (rise_s, full_s)


def test_tuned_gains_stay_stable_on_a_pad_twice_as_slow():
    trace = warm_up(slow_pad(), seconds=2400.0)
    _, overshoot_c, steady_error_c, swing_c = figures(trace, settle_from_s=1800.0)
    assert overshoot_c <= 1.0
    assert steady_error_c <= 0.2
    assert swing_c <= 0.1  # no sustained oscillation


@pytest.mark.parametrize("target_c", [35.0, 42.0])
def test_other_targets_do_not_overshoot_either(target_c):
    _, overshoot_c, steady_error_c, _ = figures(warm_up(PadParams(), target_c), target_c)
    assert overshoot_c <= 0.5
    assert steady_error_c <= 0.2


def test_a_pad_without_target_gets_no_heat_and_starts_fresh_next_time():
    heat = HeatController([PAD, "right_calf"], {PAD: GAINS}, TUNED)
    for i in range(400):  # far below target for 100 s
        heat.step({PAD: 30.0, "right_calf": 30.0}, {PAD: 40.0, "right_calf": None}, i * DT_S)
    duty = heat.step({PAD: 30.0, "right_calf": 30.0}, {PAD: None, "right_calf": None}, 100.0)
    assert duty == {PAD: 0.0, "right_calf": 0.0}
    # Back on just below target: a fresh loop answers with its proportional part alone.
    duty = heat.step({PAD: 39.5, "right_calf": 30.0}, {PAD: 40.0, "right_calf": None}, 100.25)
    assert duty[PAD] == pytest.approx(TUNED.kp * 0.5)


def test_a_lost_temperature_reading_gives_no_heat():
    heat = HeatController([PAD], {PAD: GAINS}, TUNED)
    assert heat.step({PAD: math.nan}, {PAD: 40.0}, 0.0)[PAD] == 0.0
    assert heat.step({}, {PAD: 40.0}, 0.25)[PAD] == 0.0


def test_duty_never_exceeds_the_configured_maximum():
    capped = TUNED.model_copy(update={"max_duty": 0.5})
    trace = warm_up(PadParams(), seconds=300.0, heat_cfg=capped)
    assert max(duty for _, _, duty in trace) == pytest.approx(0.5)


def test_set_gains_applies_without_a_bump():
    heat = HeatController([PAD], {}, TUNED)  # no saved gains: the config's defaults
    assert heat.gains(PAD) == GAINS
    for i in range(200):
        out = heat.step({PAD: 39.8}, {PAD: 40.0}, i * DT_S)[PAD]
    heat.set_gains(PAD, TUNED.kp, TUNED.ki * 2, TUNED.kd)
    assert heat.step({PAD: 39.8}, {PAD: 40.0}, 200 * DT_S)[PAD] == pytest.approx(out, abs=0.01)
    assert heat.gains(PAD) == (TUNED.kp, TUNED.ki * 2, TUNED.kd)
    with pytest.raises(KeyError):
        heat.set_gains("nowhere", 1.0, 0.0, 0.0)


# ---------------------------------------------------------------- the control swap (autotune)
class Scripted:
    """A temporary law that asks for a fixed duty, notes what it was fed, finishes after ``steps``."""

    def __init__(self, duty: float, steps: int) -> None:
        self.duty, self.steps, self.fed = duty, steps, []

    def update(self, temp_c, target_c, now_s):
        self.fed.append((temp_c, target_c, now_s))
        return self.duty if len(self.fed) < self.steps else 0.0

    @property
    def finished(self):
        return len(self.fed) >= self.steps


def test_a_swapped_in_law_drives_its_pad_on_the_slow_ticks_and_the_others_keep_their_pid():
    heat = HeatController([PAD, "right_calf"], {}, TUNED)
    own = heat.set_control(PAD, Scripted(0.7, steps=100))
    assert own is not heat.control(PAD)
    duty = heat.step({PAD: 30.0, "right_calf": 39.5}, {PAD: 40.0, "right_calf": 40.0}, 0.0)
    assert duty[PAD] == 0.7
    assert duty["right_calf"] == pytest.approx(TUNED.kp * 0.5)  # untouched: its PID's first answer
    assert heat.control(PAD).fed == [(30.0, 40.0, 0.0)]
    assert heat.duty == duty  # held for the fast ticks until the next slow one


def test_the_pid_takes_the_pad_back_when_the_swapped_in_law_finishes_and_starts_fresh():
    heat = HeatController([PAD], {}, TUNED)
    for i in range(400):  # the PID has a history (an integral) before the swap
        heat.step({PAD: 30.0}, {PAD: 40.0}, i * DT_S)
    own = heat.set_control(PAD, Scripted(1.0, steps=3))
    assert heat.duty[PAD] == 0.0  # no law starts from another one's duty
    assert [heat.step({PAD: 35.0}, {PAD: 40.0}, 100.0 + i * DT_S)[PAD] for i in range(3)] == [1.0, 1.0, 0.0]
    assert heat.control(PAD) is own
    # reset on the way back: a fresh loop answers with its proportional part alone
    assert heat.step({PAD: 39.5}, {PAD: 40.0}, 101.0)[PAD] == pytest.approx(TUNED.kp * 0.5)


def test_calling_a_swap_off_restores_the_pid_and_drops_the_held_duty_at_once():
    heat = HeatController([PAD, "right_calf"], {}, TUNED)
    own = heat.set_control(PAD, Scripted(1.0, steps=100))
    heat.step({PAD: 30.0, "right_calf": 30.0}, {PAD: None, "right_calf": None}, 0.0)
    assert heat.duty[PAD] == 1.0
    heat.restore_control()
    assert heat.control(PAD) is own
    assert heat.duty[PAD] == 0.0  # not only from the next slow tick: the fast ticks write this
    assert heat.step({PAD: 30.0, "right_calf": 30.0}, {PAD: None, "right_calf": None}, 0.25)[PAD] == 0.0


def test_one_temporary_law_at_a_time():
    heat = HeatController([PAD], {}, TUNED)
    heat.set_control(PAD, Scripted(1.0, steps=100))
    with pytest.raises(RuntimeError):
        heat.set_control(PAD, Scripted(0.5, steps=100))
    with pytest.raises(KeyError):
        heat.set_control("nowhere", Scripted(0.5, steps=100))

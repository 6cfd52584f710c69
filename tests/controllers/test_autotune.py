"""Relay autotune on the simulated pad: it finds gains that then warm the pad without overshoot."""

import math

import pytest

from controller.control.autotune import RelayAutotune
from controller.model.config import HeatControl
from controller.control.heat import HeatController
from sim.params import PadParams
from sim.thermal import PadThermal

DT_S = 0.25
PAD = "left_calf"


def slow_pad() -> PadParams:
    return PadParams().slower(2.0)


def tune(params: PadParams, target_c: float = 40.0, **kw) -> tuple[RelayAutotune, float, float]:
    pad = PadThermal(params, 22.0)
    tuner = RelayAutotune(target_c, **kw)
    t = 0.0
    hottest = pad.thermistor_c
    while not tuner.done and not tuner.failed:
        pad.step(DT_S, tuner.step(pad.thermistor_c, t))
        t += DT_S
        hottest = max(hottest, pad.thermistor_c)
    return tuner, t, hottest


def warm_up(params: PadParams, gains, target_c=40.0, seconds=1500.0):
    pad = PadThermal(params, 22.0)
    heat = HeatController([PAD], {PAD: gains}, HeatControl(derivative_filter_s=4.0))
    temps = []
    t = 0.0
    while t < seconds:
        pad.step(DT_S, heat.step({PAD: pad.thermistor_c}, {PAD: target_c}, t)[PAD])
        t += DT_S
        temps.append((t, pad.thermistor_c))
    return temps


@pytest.mark.parametrize("params", [PadParams(), slow_pad()], ids=["pad", "pad_twice_as_slow"])
def test_autotuned_gains_control_the_pad_without_overshoot(params):
    tuner, took_s, hottest = tune(params)
    assert tuner.done and not tuner.failed, tuner.reason
    assert took_s < 1800.0
    assert hottest < 40.0 + 1.5  # the relay never drives the pad far past the target
    kp, ki, kd = tuner.result()
    assert kp > 0 and ki > 0 and kd > 0
    for pad in (PadParams(), slow_pad()):  # and the gains cope with the other pad too
        temps = warm_up(pad, (kp, ki, kd))
        assert max(temp for _, temp in temps) - 40.0 <= 1.0
        late = [temp for t, temp in temps if t > 1200.0]
        assert max(abs(temp - 40.0) for temp in late) <= 0.2


def test_the_relay_heats_below_the_target_and_rests_above_it():
    tuner = RelayAutotune(40.0, max_duty=0.8, hysteresis_c=0.5)
    assert tuner.step(30.0, 0.0) == 0.8
    assert tuner.step(40.1, 1.0) == 0.0
    assert tuner.step(39.7, 2.0) == 0.0  # inside the hysteresis: still off
    assert tuner.step(39.4, 3.0) == 0.8


def test_ultimate_gain_follows_the_relay_amplitude():
    tuner, _, _ = tune(PadParams())
    ku, tu = tuner.ultimate()
    used = tuner.peaks[3:]
    amplitude = sum(abs(b[0] - a[0]) for a, b in zip(used, used[1:])) / (2 * (len(used) - 1))
    assert ku == pytest.approx(4 * 0.5 / (math.pi * amplitude), rel=0.05)
    assert 30.0 < tu < 200.0


def test_a_heater_that_does_not_heat_fails_with_a_reason_at_the_timeout():
    tuner = RelayAutotune(40.0, warmup_timeout_s=600.0)
    t = 0.0
    while not tuner.failed and t < 1000.0:
        assert tuner.step(22.0, t) in (0.0, 1.0)
        t += DT_S
    assert tuner.failed and not tuner.done
    assert t == pytest.approx(600.0 + 2 * DT_S)  # failed on the first reading past the deadline (t then stepped)
    assert "did not reach 40 °C within 600 s" in tuner.reason and "from 22.0 °C" in tuner.reason
    assert tuner.step(22.0, t) == 0.0  # failed: heater off
    with pytest.raises(RuntimeError):
        tuner.result()


def test_a_lost_reading_or_runaway_fails_and_turns_the_heater_off():
    lost = RelayAutotune(40.0)
    lost.step(30.0, 0.0)
    assert lost.step(math.nan, 0.25) == 0.0
    assert lost.failed and "temperature" in lost.reason
    runaway = RelayAutotune(40.0)
    runaway.step(30.0, 0.0)
    assert runaway.step(46.0, 0.25) == 0.0
    assert runaway.failed and "does not turn off" in runaway.reason


def test_as_the_pads_control_law_the_tune_finds_the_same_gains_then_hands_the_pad_back():
    """Swapped into the heat controller (Klipper's set_control), fed by its slow ticks."""
    standalone, _, _ = tune(PadParams())
    ended = []
    tuner = RelayAutotune(40.0, on_end=ended.append)
    heat = HeatController([PAD], {}, HeatControl())
    own = heat.set_control(PAD, tuner)
    pad = PadThermal(PadParams(), 22.0)
    t = 0.0
    while heat.control(PAD) is tuner and t < 3600.0:
        pad.step(DT_S, heat.step({PAD: pad.thermistor_c}, {PAD: None}, t)[PAD])  # no runner target
        t += DT_S
    assert ended == [tuner] and tuner.done
    assert tuner.result() == standalone.result()
    assert heat.control(PAD) is own and heat.duty[PAD] == 0.0


def test_a_failed_tune_hands_the_pad_back_too_and_says_so_once():
    ended = []
    tuner = RelayAutotune(40.0, on_end=ended.append)
    heat = HeatController([PAD], {}, HeatControl())
    own = heat.set_control(PAD, tuner)
    assert heat.step({PAD: 30.0}, {}, 0.0)[PAD] == 1.0
    assert heat.step({PAD: math.nan}, {}, 0.25)[PAD] == 0.0
    assert tuner.failed and ended == [tuner]
    assert heat.control(PAD) is own
    heat.step({PAD: 30.0}, {}, 0.5)
    assert ended == [tuner]


# ---------------------------------------------------------------- the envelope (issue §2)
from tests.controllers.test_heat_envelope import commission, pad_params, warm_up as envelope_warm_up  # noqa: E402
from controller.control.autotune import deadlines_from  # noqa: E402

ENVELOPE_PADS = [(3.0, 0.7, 4.0, 15.0), (3.0, 1.3, 4.0, 30.0), (0.5, 1.3, 4.0, 30.0), (1.0, 1.3, 4.0, 30.0),
                 (0.5, 0.7, 1.0, 15.0)]


def tune_from_room(params: PadParams, room_c: float, target_c: float, **kw) -> tuple[RelayAutotune, float]:
    pad = PadThermal(params, room_c)
    tuner = RelayAutotune(target_c, **kw)
    t = 0.0
    while not tuner.finished:
        pad.step(DT_S, tuner.step(pad.thermistor_c, t))
        t += DT_S
    return tuner, t


@pytest.mark.parametrize("mass, power, lag, room_c", ENVELOPE_PADS)
def test_autotuned_gains_meet_the_bar_where_the_defaults_do_not(mass, power, lag, room_c):
    """Tuned at 38 °C from the room, with the deadlines from the pad's commissioning; then
    warm-ups to 38, 40, 42 °C: overshoot ≤ 0.5 °C, ±0.2 °C steady, rise ≤ 1.3x full power."""
    params = pad_params(mass, power, lag, room_c)
    measured = commission(params, room_c)
    warmup_s, oscillation_s = deadlines_from(measured.rate_c_per_s, measured.dead_time_s, room_c, 38.0)
    tuner, _ = tune_from_room(params, room_c, 38.0, warmup_timeout_s=warmup_s, timeout_s=oscillation_s)
    assert tuner.done, tuner.reason
    for target_c in (38.0, 40.0, 42.0):
        fig = envelope_warm_up(params, room_c, target_c, tuner.result())
        assert fig["overshoot_c"] <= 0.5 and fig["steady_error_c"] <= 0.2 and fig["rise_vs_full"] <= 1.3, \
            (target_c, fig)


def test_a_heavy_pad_from_a_cold_room_is_tuned_its_warm_up_not_counted_against_the_cycles():
    """The 3x pad in a 15 °C room needs ~16 min to reach 38 °C and ~25 min of cycles: over the
    old 30-minute limit in all, inside both of its own deadlines."""
    tuner, took_s = tune_from_room(pad_params(3.0, 0.7, 4.0, 15.0), 15.0, 38.0)
    assert tuner.done, tuner.reason
    assert took_s > 1800.0


def test_a_tune_that_never_settles_says_so_with_the_turning_points_it_saw():
    tuner = RelayAutotune(40.0, timeout_s=100.0)
    tuner.step(30.0, 0.0)
    tuner.step(40.0, 10.0)  # reached the target: the oscillation's clock starts here
    t = 10.0
    while not tuner.failed:
        t += DT_S
        tuner.step(40.5, t)  # never cools back: no second turning point
    assert t == pytest.approx(110.0 + DT_S)
    assert "no steady oscillation within 100 s of reaching 40 °C (1 of 14 turning points)" in tuner.reason


def test_deadlines_come_from_the_commissioned_step_inside_their_bounds():
    assert deadlines_from(None, None, 22.0, 40.0) == (2400.0, 3600.0)
    warm, osc = deadlines_from(0.05, 20.0, 22.0, 40.0)
    assert warm == pytest.approx(3.0 * (20.0 + 18.0 / 0.05))
    assert osc == pytest.approx(150.0 * 20.0)
    assert deadlines_from(10.0, 0.1, 39.0, 40.0) == (300.0, 600.0)  # a quick pad: the floors
    assert deadlines_from(0.001, 100.0, 15.0, 42.0) == (3000.0, 3600.0)  # the ceilings

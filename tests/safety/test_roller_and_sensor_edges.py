"""Roller current at its bounds (README: over 1.5 A for 200 ms; and a roller drawing 80 % of its
stall current at the duty it is driven, from 15 % duty up), pressure plausibility at exactly
-20 mmHg, the heating-off window's memory, the heating check re-armed after a pause in
watching, and sensors exactly 3 °C apart."""

from __future__ import annotations

import math

import pytest

from controller.model.config import load_config
from tests.safety.rig import LIM, SafetyRig

ROLLER, CH, PAD = "left_calf", "left_calf", "left_calf"
HOLD_S = 0.125  # a stricter roller_overcurrent_s, exact in binary: 8 ticks of 1/64 s
CFG = load_config(overrides={"limits": {"roller_overcurrent_s": HOLD_S}})
STALL_A = CFG.board.roller_stall_current_a


def roller_rig(duty=0.0, amps=0.3, relay=True) -> SafetyRig:
    rig = SafetyRig(CFG)
    rig.speed[ROLLER] = duty
    rig.current[ROLLER] = amps
    rig.relay = relay
    return rig


def test_the_stall_current_and_ratio_are_the_datasheets():
    assert STALL_A == 1.8 and LIM.roller_stall_ratio == 0.8 and LIM.roller_current_limit_a == 1.5


@pytest.mark.parametrize("amps,fires", [(1.5, False), (1.51, True), (-1.51, True)])
def test_over_1_5_a_is_an_overcurrent_at_any_duty(amps, fires):
    rig = roller_rig(duty=0.0, amps=amps)
    start = rig.t + rig.dt_s
    fault = rig.run(1.0, "roller_overcurrent")
    assert (fault is not None) is fires
    if fires:
        assert fault.t_s == start + HOLD_S  # held exactly the hold time: not a tick later
        assert fault.message == f"left calf roller: drawing {abs(amps):.2f} A, over the 1.5 A limit for 0.12 s: " \
                                "jammed or stalled?"
        assert fault.readings == {"current_a": abs(amps), "duty": 0.0, "limit_a": 1.5, "held_s": HOLD_S}


@pytest.mark.parametrize("duty,amps,fires", [
    (0.5, 0.8 * 1.8 * 0.5, True),  # exactly 80 % of the stall current at this duty
    (0.5, 0.8 * 1.8 * 0.5 - 0.01, False),
    (-0.5, 0.8 * 1.8 * 0.5, True),  # in reverse too
    (0.15, 0.8 * 1.8 * 0.15, True),  # from 15 % duty
    (0.14, 0.8 * 1.8 * 0.15, False),  # below it, too small to tell from a free motor
])
def test_a_roller_drawing_its_stall_current_at_its_duty_is_stalled(duty, amps, fires):
    rig = roller_rig(duty=duty, amps=amps)
    start = rig.t + rig.dt_s
    fault = rig.run(1.0, "roller_overcurrent")
    assert (fault is not None) is fires
    if fires:
        assert fault.t_s == start + HOLD_S
        share = amps / (STALL_A * abs(duty))
        assert fault.message == (f"left calf roller: drawing {amps:.2f} A, {share:.0%} of stall current at "
                                 f"{abs(duty):.0%} duty for 0.12 s: jammed or stalled?")
        assert fault.readings["duty"] == abs(duty)


STALLED_AT_FULL_DUTY_A = 1.45  # over 80 % of 1.8 A, under the 1.5 A limit


def test_with_the_relay_open_no_roller_is_driven_so_none_is_stalled():
    rig = roller_rig(duty=1.0, amps=STALLED_AT_FULL_DUTY_A, relay=False)
    assert rig.run(1.0, "roller_overcurrent") is None


def test_a_roller_missing_from_the_outputs_or_the_readings_is_not_driven_and_not_over():
    rig = roller_rig(duty=1.0, amps=STALLED_AT_FULL_DUTY_A)
    del rig.speed[ROLLER]
    assert rig.run(1.0, "roller_overcurrent") is None
    rig = roller_rig(duty=0.5, amps=1.0)
    del rig.current[ROLLER]
    assert rig.run(1.0, "roller_overcurrent") is None  # no reading: the chip checks' business


def test_an_overcurrent_that_stops_restarts_the_clock():
    rig = roller_rig(duty=0.0, amps=2.0)
    assert rig.run(HOLD_S - rig.dt_s, "roller_overcurrent") is None
    rig.current[ROLLER] = 0.2
    rig.tick()
    rig.current[ROLLER] = 2.0
    start = rig.t + rig.dt_s
    assert rig.run(1.0, "roller_overcurrent").t_s == start + HOLD_S


@pytest.mark.parametrize("p,fires", [(-20.0, False), (-20.01, True)])
def test_pressure_is_plausible_down_to_exactly_minus_20_mmhg(p, fires):
    rig = SafetyRig()
    rig.tick()
    rig.pressure[CH] = p
    fault = rig.run(3.0, "pressure_sensor_range")
    assert (fault is not None) is fires
    if fires:
        assert fault.zone == CH


def test_a_chamber_missing_from_the_readings_goes_stale_in_its_own_name():
    rig = SafetyRig()
    rig.tick()
    del rig.pressure[CH]
    fault = rig.run(3.0, "pressure_sensor_range")
    assert fault is not None and fault.zone == CH and fault.message == "left calf chamber: pressure not read for 1.0 s"


def test_a_pad_not_read_for_long_with_its_heater_off_is_stale_not_a_crash_or_a_runaway():
    rig = SafetyRig(dt_s=0.25)
    rig.tick()
    rig.frozen_pads.add(PAD)
    codes = set()
    for _ in range(200):  # 50 s: past the 30 s heating-off window with no new sample
        codes |= {f.code for f in rig.tick()}
    assert "temp_stale" in codes and "heater_runaway" not in codes


def test_an_open_circuit_glitch_is_no_rise_for_the_one_sensor_that_reads():
    rig = SafetyRig(dt_s=0.25)
    rig.temps[PAD] = (30.0, math.nan)  # the digital sensor is gone; the thermistor reads
    rig.tick()
    rig.temps[PAD] = (-math.inf, math.nan)  # one open-circuit sample
    rig.tick()
    rig.temps[PAD] = (30.0, math.nan)
    assert rig.run(20.0, "heater_runaway") is None


def test_a_pause_in_watching_re_arms_the_heating_check():
    rig = SafetyRig(dt_s=0.25)
    rig.heat_targets[PAD] = 40.0
    rig.duty[PAD] = 1.0
    rig.temps[PAD] = (25.0, 25.0)
    assert rig.run(50.0, "heater_no_gain") is None
    rig.duty[PAD] = 0.5  # the PID backs off: not watched
    assert rig.run(100.0, "heater_no_gain") is None
    rig.duty[PAD] = 1.0
    again = rig.t + rig.dt_s
    fault = rig.run(200.0, "heater_no_gain")
    assert fault.t_s == again + 100.0  # a fresh window, not the stale one


def test_sensors_exactly_3_c_apart_agree():
    rig = SafetyRig(dt_s=0.25)
    rig.temps[PAD] = (30.0, 33.0)
    assert rig.run(5.0, "temp_sensor_disagree") is None


def test_a_disagreement_trips_1_s_after_it_began_even_between_thermal_reads():
    rig = SafetyRig(dt_s=1 / 64)
    rig.frozen_pads.update(rig.config.pad_names)

    def thermal_every_20_ticks(r):  # 0.3125 s: 1 s is not a whole number of reads
        if (r.n + 1) % 20 == 0:
            r.read_t = {p: r.t + r.dt_s for p in r.config.pad_names}

    rig.temps[PAD] = (30.0, 30.0)
    rig.run(1.0, "", thermal_every_20_ticks)
    rig.temps[PAD] = (30.0, 33.5)  # the sensors part, seen on this tick
    rig.tick()
    began = rig.t
    fault = rig.run(3.0, "temp_sensor_disagree", thermal_every_20_ticks)
    assert fault.t_s == began + 1.0


def test_a_stall_at_exactly_1_5_a_is_named_as_a_stall_not_as_over_the_limit():
    rig = roller_rig(duty=1.0, amps=1.5)
    fault = rig.run(1.0, "roller_overcurrent")
    assert fault.message == "left calf roller: drawing 1.50 A, 83% of stall current at 100% duty for 0.12 s: " \
                            "jammed or stalled?"


def test_the_heating_check_message_counts_the_seconds_of_its_own_window():
    rig = SafetyRig(dt_s=0.25)
    rig.temps[PAD] = (25.0, 25.0)
    rig.run(50.0, "")  # idle first: the window starts late in the session
    rig.heat_targets[PAD] = 40.0
    rig.duty[PAD] = 1.0
    fault = rig.run(200.0, "heater_no_gain")
    assert fault.message.startswith("left calf pad: 0.0 °C in 100 s at full power")

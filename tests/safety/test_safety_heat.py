"""Heat interlocks: over-temperature, believable sensors, and heat that follows the heater.

Each test feeds the monitor a sequence of sensor snapshots on the loop's clock, the way the scan
cycle does, and looks at when a fault appears: immediate trips on the tick they are seen,
windowed ones not a tick before their window.
"""

from __future__ import annotations

import math

import pytest

from controller.model.faults import Severity
from controller.model.limits import BOUNDS, PadCommissioning, heating_check
from controller.safety.monitor import OVERTEMP_CLEAR_MARGIN_C
from sim.params import PadParams
from sim.thermal import PadThermal
from tests.safety.rig import CFG, LIM, THERMAL_DT, SafetyRig, chip_error, codes

PAD = "left_calf"
DT = THERMAL_DT  # exact in binary, so window arithmetic is exact too
CHECK = heating_check(LIM, None)  # an uncommissioned pad's heating check


def heat_rig(config=CFG, commissioning=None) -> SafetyRig:
    """A rig ticking at the thermal rate (with the pads' commissioning records, if given)."""
    return SafetyRig(config, dt_s=DT, commissioning=commissioning)


# ------------------------------------------------------------------ over-temperature
def test_overtemp_trips_on_the_tick_either_sensor_reaches_the_trip():
    rig = heat_rig()
    rig.temps[PAD] = (44.9, 44.9)
    assert rig.tick() == []
    rig.temps[PAD] = (44.0, LIM.overtemp_trip_c)  # the digital sensor alone is enough
    faults = [f for f in rig.tick() if f.code == "overtemp"]
    assert len(faults) == 1
    fault = faults[0]
    assert fault.zone == PAD and fault.severity is Severity.STOP and fault.relay_off
    assert fault.message.startswith("left calf pad: digital sensor at 45.0 °C")
    assert fault.readings["temp2_c"] == 45.0


def test_overtemp_clears_only_below_the_trip_minus_a_margin():
    rig = heat_rig()
    rig.temps[PAD] = (46.0, 45.5)
    fault = next(f for f in rig.tick() if f.code == "overtemp")
    clear_below = LIM.overtemp_trip_c - OVERTEMP_CLEAR_MARGIN_C
    rig.temps[PAD] = (clear_below + 0.5, clear_below - 1.0)
    rig.tick()
    assert not rig.monitor.cause_gone(fault, rig.last_readings, rig.t)
    rig.temps[PAD] = (clear_below - 0.1, clear_below - 0.2)
    rig.tick()
    assert rig.monitor.cause_gone(fault, rig.last_readings, rig.t)


# ------------------------------------------------------------------ plausibility
@pytest.mark.parametrize("value, hint", [(-math.inf, "open circuit"), (-5.0, "open circuit"),
                                         (math.inf, "short circuit"), (90.0, "short circuit")])
def test_a_sensor_outside_the_plausible_range_trips_at_once(value, hint):
    rig = heat_rig()
    rig.temps[PAD] = (value, 31.0)
    fault = next(f for f in rig.tick() if f.code == "temp_sensor_range")
    assert fault.zone == PAD and fault.family == "heat"
    assert fault.message.startswith("left calf pad: thermistor reads")
    assert hint in fault.message


def test_sensors_that_disagree_trip_after_a_second_not_on_one_noisy_sample():
    rig = heat_rig()
    rig.temps[PAD] = (38.0, 31.8)
    assert "temp_sensor_disagree" not in codes(rig.tick())
    rig.temps[PAD] = (38.0, 37.5)  # the next sample agrees again: a glitch
    for _ in range(12):
        assert "temp_sensor_disagree" not in codes(rig.tick())

    rig.temps[PAD] = (38.0, 31.8)
    start = rig.t + DT
    fault = rig.run(5.0, "temp_sensor_disagree")
    assert fault is not None
    assert fault.t_s == start + LIM.stale_reading_s  # not a tick earlier, not a tick later
    assert fault.message.startswith("left calf pad: sensors disagree by 6.2 °C")
    assert fault.readings["difference_c"] == pytest.approx(6.2)


def test_a_small_difference_between_the_sensors_is_normal():
    rig = heat_rig()
    rig.temps[PAD] = (38.0, 38.0 - LIM.sensor_disagree_c + 0.1)
    assert rig.run(30.0, "temp_sensor_disagree") is None


def test_a_pad_not_read_goes_stale_after_the_stale_limit():
    rig = heat_rig()
    rig.tick()
    rig.frozen_pads.add(PAD)
    last_read = rig.t
    fault = rig.run(5.0, "temp_stale")
    assert fault is not None and fault.zone == PAD
    assert fault.t_s == last_read + LIM.stale_reading_s
    assert fault.message.startswith("left calf pad: thermistor not read for 1.0 s")


def test_one_missing_sensor_goes_stale_on_its_own():
    rig = heat_rig()
    rig.tick()
    rig.temps[PAD] = (36.0, math.nan)  # the MCP9808 stopped answering; the thermistor still reads
    last_read = rig.t
    fault = rig.run(5.0, "temp_stale")
    assert fault.t_s == last_read + LIM.stale_reading_s
    assert "digital sensor not read" in fault.message


def test_a_reading_that_changes_is_checked_at_once_even_with_the_same_read_time():
    rig = heat_rig()
    rig.frozen_pads.add(PAD)  # its read time stays put; well inside the stale limit below
    assert rig.tick() == [] and rig.tick() == []
    rig.temps[PAD] = (30.0, 90.0)
    assert "temp_sensor_range" in codes(rig.tick())


def test_a_chip_that_keeps_failing_is_a_chip_error_a_glitch_is_not():
    rig = heat_rig()
    text = "MCP9808 at 0x19 on i2c-1: no answer (chip missing or NACK) [errno 121]"
    rig.errors = [chip_error("pad", "left_calf", text)]
    assert "chip_error" not in codes(rig.tick())
    rig.errors = []
    assert rig.run(3.0, "chip_error") is None  # one glitch, then clean reads

    rig.errors = [chip_error("pad", "left_calf", text)]
    start = rig.t + DT
    fault = rig.run(5.0, "chip_error")
    assert fault.t_s == start + LIM.stale_reading_s
    assert fault.zone == "pad:left_calf" and fault.family == "heat"
    assert fault.message.startswith("left calf pad: chip failing for 1.0 s")
    assert "MCP9808 at 0x19" in fault.message
    assert not rig.monitor.cause_gone(fault, rig.last_readings, rig.t)
    rig.errors = []
    rig.tick()
    assert rig.monitor.cause_gone(fault, rig.last_readings, rig.t)


# ------------------------------------------------------------------ heater verification
def simulated_pad_rig(params=PadParams(), start_c=22.0):
    """A rig whose left calf pad is the simulator's two-mass pad, driven by the rig's duty."""
    rig = heat_rig()
    pad = PadThermal(params, start_c)

    def advance(r):
        pad.step(DT, r.duty[PAD] if r.relay else 0.0)
        r.temps[PAD] = (pad.thermistor_c, pad.digital_c)

    rig.temps[PAD] = (start_c, start_c)
    return rig, pad, advance


def test_a_pad_heating_normally_then_switched_off_trips_nothing():
    """Full power to the target, then off: heat soak lifts the sensors, but not by the limit."""
    rig, pad, advance = simulated_pad_rig()
    rig.heat_targets[PAD] = 40.0
    rig.duty[PAD] = 1.0
    faults = []
    for _ in range(round(600 / DT)):
        advance(rig)
        if rig.temps[PAD][0] >= 40.0:
            rig.duty[PAD] = 0.0
        faults += rig.tick()
    assert rig.duty[PAD] == 0.0, "the pad never reached its target"
    assert faults == []


def test_heat_soak_of_about_a_degree_after_switch_off_is_not_a_runaway():
    rig = heat_rig()
    rig.heat_targets[PAD] = 40.0
    rig.temps[PAD] = (40.0, 39.6)
    rig.duty[PAD] = 0.9
    rig.tick()
    rig.duty[PAD] = 0.0
    soak = [40.0 + 1.2 * (1 - math.exp(-k * DT / 6.0)) - 0.01 * k * DT for k in range(400)]
    i = iter(soak)

    def step(r):
        v = next(i)
        r.temps[PAD] = (v, v - 0.4)

    assert rig.run(99.0, "heater_runaway", step) is None


def test_no_gain_at_full_duty_locks_out_after_the_window():
    rig = heat_rig()
    rig.heat_targets[PAD] = 40.0
    rig.duty[PAD] = 1.0
    rig.temps[PAD] = (25.0, 25.0)  # the sensor fell off the pad: the heat never reaches it
    armed = rig.t + DT
    fault = rig.run(CHECK.window_s + 60.0, "heater_no_gain")
    assert fault is not None
    assert fault.t_s == armed + CHECK.window_s
    assert fault.severity is Severity.LOCKOUT and fault.zone == PAD
    assert fault.message == ("left calf pad: 0.0 °C in 100 s at full power, at least 1 °C expected "
                             "(pad not commissioned): element weak or sensor off the pad")


def test_a_broken_element_fails_the_heating_check():
    rig, pad, advance = simulated_pad_rig(PadParams(heater_power_w=0.0), start_c=30.0)
    rig.heat_targets[PAD] = 40.0
    rig.duty[PAD] = 1.0
    assert rig.run(CHECK.window_s + 1.0, "heater_no_gain", advance) is not None


def test_slow_but_steady_heating_passes_the_check_each_window():
    rig = heat_rig()
    rig.heat_targets[PAD] = 42.0
    rig.duty[PAD] = 1.0
    rate = CHECK.gain_c / CHECK.window_s * 1.1  # just fast enough

    def warm(r):
        v = 25.0 + rate * r.t
        r.temps[PAD] = (v, v)

    assert rig.run(300.0, "heater_no_gain", warm) is None


def test_a_commissioned_pad_is_held_to_half_its_commissioned_rise_in_its_window():
    rig = heat_rig(commissioning={PAD: PadCommissioning(rise_c=4.1, window_s=60.0)})
    rig.heat_targets[PAD] = 40.0
    rig.duty[PAD] = 1.0
    rate = 1.3 / 60.0  # °C/s: under half the commissioned 4.1 °C per 60 s

    def warm(r):
        v = 25.0 + rate * r.t
        r.temps[PAD] = (v, v)

    armed = rig.t + DT
    fault = rig.run(120.0, "heater_no_gain", warm)
    assert fault is not None and fault.t_s == armed + 60.0
    assert fault.message == ("left calf pad: 1.3 °C in 60 s at full power, commissioned 4.1 °C: "
                             "element weak or sensor off the pad")
    assert fault.readings["gain_c"] == pytest.approx(2.05) and fault.readings["window_s"] == 60.0


def test_a_commissioned_pad_warming_at_its_commissioned_rate_passes():
    rig = heat_rig(commissioning={PAD: PadCommissioning(rise_c=4.1, window_s=60.0)})
    rig.heat_targets[PAD] = 42.0
    rig.duty[PAD] = 1.0
    rate = 0.55 * 4.1 / 60.0  # just over half the commissioned rate

    def warm(r):
        v = 25.0 + rate * r.t
        r.temps[PAD] = (v, v)

    assert rig.run(300.0, "heater_no_gain", warm) is None


@pytest.mark.parametrize("rise_c, window_s", [(0.5, 60.0), (4.0, 600.0), (1.0, 1000.0)])
def test_no_commissioning_record_gets_past_the_outer_bounds(rise_c, window_s):
    """A window past 180 s or a required gain under 1 °C is never used, whatever was measured."""
    check = heating_check(LIM, PadCommissioning(rise_c=rise_c, window_s=window_s))
    assert check.window_s <= BOUNDS["heating_check_window_s"][0] == 180.0
    assert check.gain_c >= BOUNDS["heating_check_gain_c"][0] == 1.0


def test_a_stricter_config_tightens_every_pads_check():
    strict = CFG.model_copy(update={"limits": LIM.model_copy(update={"heating_check_window_s": 60.0,
                                                                    "heating_check_gain_c": 2.0})})
    check = heating_check(strict.limits, None)
    assert (check.window_s, check.gain_c) == (60.0, 2.0)


@pytest.mark.parametrize("rise_c, window_s", [(0.0, 60.0), (math.nan, 60.0), (2.0, -1.0), (2.0, math.inf)])
def test_a_commissioning_record_with_impossible_numbers_is_refused(rise_c, window_s):
    with pytest.raises(ValueError):
        PadCommissioning(rise_c=rise_c, window_s=window_s)


def test_the_heating_check_sleeps_near_the_target_and_at_low_duty():
    rig = heat_rig()
    rig.heat_targets[PAD] = 40.0
    rig.temps[PAD] = (36.0, 36.0)  # within the margin of the target: holding, not heating
    rig.duty[PAD] = 1.0
    assert rig.run(200.0, "heater_no_gain") is None
    rig.temps[PAD] = (25.0, 25.0)
    rig.duty[PAD] = LIM.heating_check_duty - 0.1
    assert rig.run(200.0, "heater_no_gain") is None


def test_rising_with_the_heater_off_is_a_runaway_lockout():
    rig = heat_rig()
    rig.temps[PAD] = (30.0, 30.0)
    rig.tick()
    start = rig.t
    rate = 0.1  # °C/s: the simulated 20 W pad at full power, MOSFET stuck on

    def stuck(r):
        v = 30.0 + rate * (r.t + DT - start)
        r.temps[PAD] = (v, v)

    fault = rig.run(60.0, "heater_runaway", stuck)
    assert fault is not None
    # the tick the rise first reaches the limit (20 s), never the tick before
    assert fault.t_s == pytest.approx(start + LIM.heating_off_rise_c / rate, abs=DT)
    assert fault.readings["rise_c"] >= LIM.heating_off_rise_c
    assert fault.severity is Severity.LOCKOUT and fault.relay_off
    assert fault.message.startswith("left calf pad: warmed 2.0 °C in 20 s with its heater off")


def test_slow_warming_by_the_leg_with_the_heater_off_is_not_a_runaway():
    """A cold pad put on a warm leg gains a few degrees, but under 2 °C in any 30 s."""
    rig = heat_rig()
    rate = 0.9 * LIM.heating_off_rise_c / LIM.heating_off_window_s

    def leg(r):
        v = 22.0 + rate * r.t
        r.temps[PAD] = (v, v)

    assert rig.run(300.0, "heater_runaway", leg) is None


def test_the_simulated_stuck_mosfet_is_caught_before_the_pad_gets_hot():
    rig, pad, advance = simulated_pad_rig(start_c=30.0)

    def stuck(r):
        pad.step(DT, 1.0)  # full power whatever the duty says
        r.temps[PAD] = (pad.thermistor_c, pad.digital_c)

    fault = rig.run(120.0, "heater_runaway", stuck)
    assert fault is not None and fault.readings["temp_c"] < LIM.overtemp_trip_c


def test_lockouts_never_clear_by_acknowledgement():
    rig = heat_rig()
    rig.heat_targets[PAD] = 40.0
    rig.duty[PAD] = 1.0
    rig.temps[PAD] = (25.0, 25.0)
    fault = rig.run(CHECK.window_s + 1.0, "heater_no_gain")
    rig.duty[PAD] = 0.0
    rig.tick()
    assert not rig.monitor.cause_gone(fault, rig.last_readings, rig.t)

"""Each interlock's fault record, whole: code, severity, zone, time, message and the readings it
saw. The record is what the fault log keeps and what a person reads (README: "the message says
what was seen"), so a wrong zone, a lost reading or a garbled message is a regression too.

Every scenario is the plainest way to trip its check on the rig's exact binary clock.
"""

from __future__ import annotations

import math

import pytest

from tests.safety.rig import FAST_DT, THERMAL_DT, SafetyRig, chip_error


def ramp(ch, start, rate, t0, dt):
    def each(r):
        r.pressure[ch] = start + rate * (r.t + dt - t0)
    return each


SCENARIOS = {}


def scenario(name):
    def register(fn):
        SCENARIOS[name] = fn
        return fn
    return register


@scenario("overtemp")
def _overtemp():
    rig = SafetyRig(dt_s=THERMAL_DT)
    rig.temps["left_calf"] = (44.0, 45.0)
    return next(f for f in rig.tick() if f.code == "overtemp")


@scenario("temp_sensor_range_low")
def _temp_sensor_range_low():
    rig = SafetyRig(dt_s=THERMAL_DT)
    rig.temps["left_calf"] = (-math.inf, 30.0)
    return next(f for f in rig.tick() if f.code == "temp_sensor_range")


@scenario("temp_sensor_range_high")
def _temp_sensor_range_high():
    rig = SafetyRig(dt_s=THERMAL_DT)
    rig.temps["right_foot"] = (30.0, 90.0)
    return next(f for f in rig.tick() if f.code == "temp_sensor_range")


@scenario("temp_sensor_disagree")
def _temp_sensor_disagree():
    rig = SafetyRig(dt_s=THERMAL_DT)
    rig.temps["left_foot"] = (30.0, 33.5)
    return rig.run(5.0, "temp_sensor_disagree")


@scenario("temp_stale")
def _temp_stale():
    rig = SafetyRig(dt_s=THERMAL_DT)
    rig.tick()
    rig.frozen_pads.add("left_calf")
    return rig.run(5.0, "temp_stale")


@scenario("overpressure")
def _overpressure():
    rig = SafetyRig()
    rig.start_fill("left_calf")
    rig.pressure["left_calf"] = 150.0
    return next(f for f in rig.tick() if f.code == "overpressure")


@scenario("fill_failure")
def _fill_failure():
    rig = SafetyRig()
    rig.start_fill("left_calf", target=80.0)
    return rig.run(60.0, "fill_failure", ramp("left_calf", 0.0, 0.5, rig.t, FAST_DT))


@scenario("hold_too_long")
def _hold_too_long():
    rig = SafetyRig()
    rig.close_chamber("right_thigh")
    rig.pressure["right_thigh"] = 60.0
    return rig.run(120.0, "hold_too_long")


@scenario("frozen_filling")
def _frozen_filling():
    rig = SafetyRig()
    rig.start_fill("left_calf", target=80.0)
    rig.pressure["left_calf"] = 42.0
    return rig.run(20.0, "pressure_sensor_frozen")


@scenario("frozen_venting")
def _frozen_venting():
    rig = SafetyRig()
    rig.close_chamber("left_calf")
    rig.pressure["left_calf"] = 50.0
    rig.tick()
    rig.vent["left_calf"] = True
    return rig.run(20.0, "pressure_sensor_frozen")


@scenario("vent_failure")
def _vent_failure():
    rig = SafetyRig()
    rig.pressure["left_calf"] = 60.0
    rig.close_chamber("left_calf")
    rig.tick()
    rig.vent["left_calf"] = True
    return rig.run(20.0, "vent_failure", ramp("left_calf", 60.0, -0.5, rig.t, FAST_DT))


@scenario("roller_overcurrent")
def _roller_overcurrent():
    rig = SafetyRig()
    rig.tick()
    rig.current["left_calf"] = -2.1
    return rig.run(2.0, "roller_overcurrent")


@scenario("heater_no_gain")
def _heater_no_gain():
    rig = SafetyRig(dt_s=THERMAL_DT)
    rig.heat_targets["left_calf"] = 40.0
    rig.duty["left_calf"] = 1.0
    rig.temps["left_calf"] = (25.0, 25.0)
    return rig.run(200.0, "heater_no_gain")


@scenario("heater_runaway")
def _heater_runaway():
    rig = SafetyRig(dt_s=THERMAL_DT)
    rig.temps["left_calf"] = (30.0, 30.0)
    rig.tick()
    start = rig.t
    def stuck(r):
        v = 30.0 + 0.1 * (r.t + THERMAL_DT - start)
        r.temps["left_calf"] = (v, v)
    return rig.run(60.0, "heater_runaway", stuck)


@scenario("chip_error")
def _chip_error():
    rig = SafetyRig()
    rig.errors = [chip_error("chamber", "left_calf", "ADS1115 at 0x49 on i2c-1: bus error [errno 5]")]
    return rig.run(3.0, "chip_error")


EXPECTED = {
    'overtemp': {'code': 'overtemp', 'severity': 'stop', 'zone': 'left_calf', 't_s': 0.25, 'message': 'left calf pad: digital sensor at 45.0 °C, at or above the 45 °C over-temperature trip', 'readings': {'temp_c': 44.0, 'temp2_c': 45.0, 'trip_c': 45.0}},
    'temp_sensor_range_low': {'code': 'temp_sensor_range', 'severity': 'stop', 'zone': 'left_calf', 't_s': 0.25, 'message': 'left calf pad: thermistor reads -inf, outside 0–85 °C (open circuit or unplugged?)', 'readings': {'temp_c': '-inf', 'temp2_c': 30.0, 'read_t_s': 0.25}},
    'temp_sensor_range_high': {'code': 'temp_sensor_range', 'severity': 'stop', 'zone': 'right_foot', 't_s': 0.25, 'message': 'right foot pad: digital sensor reads 90.0 °C, outside 0–85 °C (short circuit?)', 'readings': {'temp_c': 30.0, 'temp2_c': 90.0, 'read_t_s': 0.25}},
    'temp_sensor_disagree': {'code': 'temp_sensor_disagree', 'severity': 'stop', 'zone': 'left_foot', 't_s': 1.25, 'message': 'left foot pad: sensors disagree by 3.5 °C (thermistor 30.0 °C, digital sensor 33.5 °C; allowed 3 °C)', 'readings': {'temp_c': 30.0, 'temp2_c': 33.5, 'read_t_s': 1.25, 'difference_c': 3.5, 'limit_c': 3.0}},
    'temp_stale': {'code': 'temp_stale', 'severity': 'stop', 'zone': 'left_calf', 't_s': 1.25, 'message': 'left calf pad: thermistor not read for 1.0 s (limit 1 s)', 'readings': {'temp_c': 30.0, 'temp2_c': 30.0, 'read_t_s': 0.25, 'sensor': 'thermistor', 'age_s': 1.0}},
    'overpressure': {'code': 'overpressure', 'severity': 'stop', 'zone': 'left_calf', 't_s': 0.015625, 'message': 'left calf chamber: 150.0 mmHg, at or above the 150 mmHg over-pressure trip', 'readings': {'pressure_mmhg': 150.0, 'trip_mmhg': 150.0}},
    'fill_failure': {'code': 'fill_failure', 'severity': 'stop', 'zone': 'left_calf', 't_s': 20.015625, 'message': 'left calf chamber: only 10.0 mmHg after 20.0 s of filling toward 80.0 mmHg (half, 40.0 mmHg, is due within 20 s): leak or pump failure?', 'readings': {'pressure_mmhg': 10.0078125, 'target_mmhg': 80.0, 'elapsed_s': 20.0}},
    'hold_too_long': {'code': 'hold_too_long', 'severity': 'stop', 'zone': 'right_thigh', 't_s': 60.015625, 'message': 'right thigh chamber: held closed at 60.0 mmHg for 60.0 s (limit 60 s: no tourniquet)', 'readings': {'pressure_mmhg': 60.0, 'held_s': 60.0}},
    'frozen_filling': {'code': 'pressure_sensor_frozen', 'severity': 'stop', 'zone': 'left_calf', 't_s': 3.015625, 'message': 'left calf chamber: pressure reading stuck at exactly 42.0 mmHg for 3.0 s with the fill valve open and the pump running: pressure sensor frozen, or no air getting through?', 'readings': {'pressure_mmhg': 42.0, 'unchanged_s': 3.0}},
    'frozen_venting': {'code': 'pressure_sensor_frozen', 'severity': 'stop', 'zone': 'left_calf', 't_s': 3.03125, 'message': 'left calf chamber: pressure reading stuck at exactly 50.0 mmHg for 3.0 s with the vent open: pressure sensor frozen, or no air getting through?', 'readings': {'pressure_mmhg': 50.0, 'unchanged_s': 3.0}},
    'vent_failure': {'code': 'vent_failure', 'severity': 'lockout', 'zone': 'left_calf', 't_s': 5.03125, 'message': 'left calf chamber: still 57.5 mmHg 5.0 s after venting began at 60.0 mmHg (must be below 10 mmHg within 5 s): vent valve stuck closed?', 'readings': {'pressure_mmhg': 57.4921875, 'start_mmhg': 59.9921875, 'elapsed_s': 5.0}},
    'roller_overcurrent': {'code': 'roller_overcurrent', 'severity': 'stop', 'zone': 'left_calf', 't_s': 0.234375, 'message': 'left calf roller: drawing 2.10 A, over the 1.5 A limit for 0.20 s: jammed or stalled?', 'readings': {'current_a': 2.1, 'duty': 0.0, 'limit_a': 1.5, 'held_s': 0.203125}},
    'heater_no_gain': {'code': 'heater_no_gain', 'severity': 'lockout', 'zone': 'left_calf', 't_s': 100.25, 'message': 'left calf pad: 0.0 °C in 100 s at full power, at least 1 °C expected (pad not commissioned): element weak or sensor off the pad', 'readings': {'temp_c': 25.0, 'temp2_c': 25.0, 'start_c': 25.0, 'duty': 1.0, 'target_c': 40.0, 'window_s': 100.0, 'gain_c': 1.0, 'commissioned_rise_c': None}},
    'heater_runaway': {'code': 'heater_runaway', 'severity': 'lockout', 'zone': 'left_calf', 't_s': 20.25, 'message': 'left calf pad: warmed 2.0 °C in 20 s with its heater off (limit 2 °C in 30 s): heater switch stuck on?', 'readings': {'temp_c': 32.0, 'temp2_c': 32.0, 'rise_c': 2.0, 'over_s': 20.0}},
    'chip_error': {'code': 'chip_error', 'severity': 'stop', 'zone': 'chamber:left_calf', 't_s': 1.015625, 'message': 'left calf chamber: chip failing for 1.0 s — ADS1115 at 0x49 on i2c-1: bus error [errno 5]', 'readings': {'error': 'ADS1115 at 0x49 on i2c-1: bus error [errno 5]', 'failing_s': 1.0}},
}


def test_every_scenario_has_its_record():
    assert set(SCENARIOS) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_fault_record_says_what_was_seen(name):
    fault = SCENARIOS[name]()
    assert fault is not None, f"{name} did not trip"
    assert fault.to_dict() == EXPECTED[name]

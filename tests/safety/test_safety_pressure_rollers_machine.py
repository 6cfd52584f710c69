"""Pressure, roller and whole-machine interlocks, fed tick by tick on the loop's clock.

The monitor learns what the valves and pump were doing from the outputs last written (what the
gate let through), exactly as in the scan cycle.
"""

from __future__ import annotations

import math

import pytest

from controller.model.config import load_config
from controller.model.faults import Severity
from tests.safety.rig import CFG, FAST_DT, LIM, SafetyRig, chip_error, codes

CH = "left_calf"
ROLLER = "left_calf"
DT = FAST_DT  # exact in binary, so window arithmetic is exact


def ramp(start: float, rate: float, t0: float, ch: str = CH):
    """A pressure moving at ``rate`` mmHg/s from ``start`` at ``t0`` (set before each tick)."""
    def each(rig):
        rig.pressure[ch] = start + rate * (rig.t + DT - t0)
    return each


# ------------------------------------------------------------------ over-pressure and sensor range
def test_overpressure_trips_on_the_tick_it_is_seen():
    rig = SafetyRig()
    rig.start_fill(CH)
    rig.pressure[CH] = 149.9
    assert "overpressure" not in codes(rig.tick())
    rig.pressure[CH] = LIM.overpressure_trip_mmhg
    fault = next(f for f in rig.tick() if f.code == "overpressure")
    assert fault.zone == CH and fault.family == "pressure" and fault.relay_off
    assert fault.message == "left calf chamber: 150.0 mmHg, at or above the 150 mmHg over-pressure trip"


def test_a_missing_pressure_reading_trips_after_the_stale_limit_not_on_one_miss():
    rig = SafetyRig()
    rig.tick()
    rig.pressure[CH] = math.nan
    rig.tick()
    rig.pressure[CH] = 0.0
    assert rig.run(3.0, "pressure_sensor_range") is None

    last_good = rig.t
    rig.pressure[CH] = math.nan
    fault = rig.run(3.0, "pressure_sensor_range")
    assert fault.t_s == last_good + LIM.stale_reading_s
    assert fault.message == "left calf chamber: pressure not read for 1.0 s"


def test_an_implausibly_low_pressure_is_a_broken_sensor():
    rig = SafetyRig()
    rig.tick()
    last_good = rig.t
    rig.pressure[CH] = -35.0
    fault = rig.run(3.0, "pressure_sensor_range")
    assert fault.t_s == last_good + LIM.stale_reading_s
    assert fault.message.startswith("left calf chamber: pressure sensor reads -35.0 mmHg, below the plausible -20 mmHg")


# ------------------------------------------------------------------ vent
def test_a_vent_that_empties_the_chamber_trips_nothing():
    rig = SafetyRig()
    rig.pressure[CH] = 100.0
    rig.close_chamber(CH)
    rig.tick()
    rig.vent[CH] = True
    t0 = rig.t

    def empties(r):
        r.pressure[CH] = 100.0 * math.exp(-(r.t + DT - t0) / 1.2)  # below 10 mmHg in ~2.8 s

    faults = []
    for _ in range(round(20 / DT)):
        empties(rig)
        faults += rig.tick()
    assert faults == []


def test_a_stuck_vent_locks_out_after_the_vent_window():
    rig = SafetyRig()
    rig.pressure[CH] = 60.0
    rig.close_chamber(CH)
    rig.tick()
    rig.vent[CH] = True
    start = rig.t + DT
    fault = rig.run(20.0, "vent_failure", ramp(60.0, -0.5, rig.t))  # a slow leak, the vent stays shut
    assert fault is not None
    assert fault.t_s == start + LIM.vent_window_s
    assert fault.severity is Severity.LOCKOUT and fault.relay_off
    assert fault.message.startswith("left calf chamber: still 57.5 mmHg 5.0 s after venting began at 60.0 mmHg")


def test_venting_is_judged_only_when_it_began_above_the_vent_threshold():
    rig = SafetyRig()
    rig.pressure[CH] = LIM.vent_below_mmhg - 2.0  # already nearly empty: a slow tail is fine
    rig.close_chamber(CH)
    rig.tick()
    rig.vent[CH] = True
    assert rig.run(20.0, "vent_failure") is None


def test_an_open_relay_vents_every_chamber_so_venting_is_checked_then_too():
    rig = SafetyRig()
    rig.pressure[CH] = 80.0
    rig.close_chamber(CH)
    rig.tick()
    rig.relay = False  # unpowered vents are open, whatever was commanded
    start = rig.t + DT
    fault = rig.run(20.0, "vent_failure", ramp(80.0, -1.0, rig.t))
    assert fault is not None and fault.t_s == start + LIM.vent_window_s


# ------------------------------------------------------------------ fill
def test_a_fill_that_never_reaches_half_the_target_fails_after_the_timeout():
    rig = SafetyRig()
    rig.start_fill(CH, target=80.0)
    start = rig.t + DT
    fault = rig.run(60.0, "fill_failure", ramp(0.0, 0.5, rig.t))  # a torn sleeve: 0.5 mmHg/s
    assert fault is not None
    assert fault.t_s == start + LIM.fill_timeout_s
    assert fault.severity is Severity.STOP and fault.zone == CH
    assert fault.message.startswith("left calf chamber: only 10.0 mmHg after 20.0 s of filling toward 80.0 mmHg")


def test_a_normal_fill_and_hold_within_limits_trips_nothing():
    rig = SafetyRig()
    rig.start_fill(CH, target=80.0)
    t0 = rig.t

    def fill_then_hold(r):
        elapsed = r.t + DT - t0
        if elapsed < 8.0:
            r.pressure[CH] = 10.0 * elapsed  # 80 mmHg in 8 s
        else:
            r.fill[CH] = False
            r.pump = 0.0
            r.pressure[CH] = 80.0 - 0.01 * elapsed

    assert rig.run(LIM.max_hold_s - 5.0, "", fill_then_hold) is None
    faults = []
    for _ in range(round(1.0 / DT)):
        faults += rig.tick()
    assert faults == []


def test_the_fill_check_needs_the_pump_running():
    rig = SafetyRig()
    rig.start_fill(CH, target=80.0)
    rig.pump = 0.0  # valve open, pump off: nothing is supposed to flow
    assert rig.run(40.0, "fill_failure") is None


# ------------------------------------------------------------------ hold
def test_a_chamber_held_closed_under_pressure_trips_at_the_hold_limit():
    rig = SafetyRig()
    rig.close_chamber(CH)
    rig.pressure[CH] = 60.0
    start = rig.t + DT
    fault = rig.run(120.0, "hold_too_long")
    assert fault is not None
    assert fault.t_s == start + LIM.max_hold_s
    assert fault.message == "left calf chamber: held closed at 60.0 mmHg for 60.0 s (limit 60 s: no tourniquet)"


def test_a_hold_just_under_the_limit_then_venting_trips_nothing():
    rig = SafetyRig()
    rig.close_chamber(CH)
    rig.pressure[CH] = 60.0
    assert rig.run(LIM.max_hold_s - 2 * DT, "hold_too_long") is None
    rig.vent[CH] = True
    rig.pressure[CH] = 5.0
    assert rig.run(LIM.max_hold_s + 5.0, "hold_too_long") is None  # past a whole new hold window


# ------------------------------------------------------------------ frozen sensor
def test_a_reading_frozen_while_filling_trips_after_the_window():
    rig = SafetyRig()
    rig.start_fill(CH, target=80.0)
    rig.pressure[CH] = 42.0
    start = rig.t + DT
    fault = rig.run(20.0, "pressure_sensor_frozen")
    assert fault is not None
    assert fault.t_s == start + LIM.pressure_frozen_window_s
    assert fault.message.startswith("left calf chamber: pressure reading stuck at exactly 42.0 mmHg for 3.0 s")


def test_a_frozen_reading_while_venting_is_named_in_the_vent_failure_too():
    rig = SafetyRig()
    rig.close_chamber(CH)
    rig.pressure[CH] = 50.0
    rig.tick()
    rig.vent[CH] = True
    assert rig.run(20.0, "pressure_sensor_frozen") is not None
    fault = rig.run(20.0, "vent_failure")
    assert "sensor may be frozen" in fault.message


def test_a_steady_reading_with_no_air_moving_is_not_frozen():
    rig = SafetyRig()
    rig.close_chamber(CH)
    rig.pressure[CH] = 30.0  # held: the pressure is supposed to stay put
    assert rig.run(4 * LIM.pressure_frozen_window_s, "pressure_sensor_frozen") is None  # four whole windows


# ------------------------------------------------------------------ clearing pressure faults
def test_pressure_faults_clear_only_when_every_chamber_is_empty():
    rig = SafetyRig()
    rig.pressure[CH] = 155.0
    fault = next(f for f in rig.tick() if f.code == "overpressure")
    rig.pressure[CH] = 3.0
    rig.pressure["right_thigh"] = 12.0
    rig.tick()
    assert not rig.monitor.cause_gone(fault, rig.last_readings, rig.t)
    rig.pressure["right_thigh"] = 2.0
    rig.tick()
    assert rig.monitor.cause_gone(fault, rig.last_readings, rig.t)


# ------------------------------------------------------------------ rollers
def test_a_jammed_roller_trips_after_the_overcurrent_time():
    rig = SafetyRig()
    rig.tick()
    start = rig.t + DT
    rig.current[ROLLER] = -2.1  # running in reverse: the magnitude counts
    fault = rig.run(2.0, "roller_overcurrent")
    assert fault is not None
    assert start + LIM.roller_overcurrent_s <= fault.t_s < start + LIM.roller_overcurrent_s + DT
    assert fault.zone == ROLLER and fault.family == "roller"
    assert fault.message.startswith("left calf roller: drawing 2.10 A, over the 1.5 A limit")
    rig.current[ROLLER] = 0.0
    rig.tick()
    assert rig.monitor.cause_gone(fault, rig.last_readings, rig.t)


def test_start_up_inrush_shorter_than_the_window_is_normal():
    rig = SafetyRig()
    inrush_ticks = math.floor(LIM.roller_overcurrent_s / DT) - 1
    for _ in range(5):
        rig.current[ROLLER] = 2.5
        for _ in range(inrush_ticks):
            assert "roller_overcurrent" not in codes(rig.tick())
        rig.current[ROLLER] = 0.6
        for _ in range(32):
            assert "roller_overcurrent" not in codes(rig.tick())


# ------------------------------------------------------------------ machine
def test_estop_trips_on_the_tick_and_clears_once_released():
    rig = SafetyRig()
    rig.tick()
    rig.estop = True
    fault = next(f for f in rig.tick() if f.code == "estop")
    assert fault.relay_off and fault.zone is None
    assert "emergency stop" in fault.message
    assert not rig.monitor.cause_gone(fault, rig.last_readings, rig.t)
    rig.estop = False
    rig.tick()
    assert rig.monitor.cause_gone(fault, rig.last_readings, rig.t)


def test_a_session_past_the_limit_is_ended_once_the_runner_had_its_tick():
    cfg = load_config(overrides={"rates": {"fast_hz": 64.0}})  # a period of exactly DT
    rig = SafetyRig(cfg)
    rig.session_started = 0.0
    rig.n = round(LIM.max_session_s / DT) - 1
    assert "session_too_long" not in codes(rig.tick())  # exactly the limit: the runner ends it
    fault = next(f for f in rig.tick() if f.code == "session_too_long")
    assert fault.t_s == LIM.max_session_s + cfg.rates.period_s
    assert fault.message.startswith("session ran 30.0 min, past the 30 min limit")
    rig.session_started = None
    assert "session_too_long" not in codes(rig.tick())


def test_a_late_tick_trips_only_past_the_allowed_lateness():
    rig = SafetyRig()
    limit = LIM.tick_late_periods * CFG.rates.period_s
    rig.late = limit
    assert "tick_late" not in codes(rig.tick())
    rig.late = limit + 0.001
    fault = next(f for f in rig.tick() if f.code == "tick_late")
    assert fault.relay_off
    assert fault.message.startswith("control loop ran 61 ms late (limit 60 ms")


@pytest.mark.parametrize("zone, family", [("chamber:left_calf", "pressure"), ("roller:left_foot", "roller"),
                                          ("machine:expander", "machine")])
def test_a_failing_chip_trips_in_its_zones_family(zone, family):
    rig = SafetyRig()
    rig.errors = [chip_error(*zone.split(":"), "ADS1115 at 0x49 on i2c-1: bus error [errno 5]")]
    start = rig.t + DT
    fault = rig.run(3.0, "chip_error")
    assert fault.t_s == start + LIM.stale_reading_s
    assert fault.zone == zone and fault.family == family
    assert "ADS1115 at 0x49" in fault.message
    assert not rig.monitor.cause_gone(fault, rig.last_readings, rig.t)  # still failing
    rig.errors = [chip_error("roller", "right_calf", "INA219 at 0x43 on i2c-1: bus error [errno 5]")]
    rig.tick()  # another chip failing does not keep this fault
    assert rig.monitor.cause_gone(fault, rig.last_readings, rig.t)

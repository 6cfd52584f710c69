"""When an acknowledgement may clear a stop fault (SafetyMonitor.cause_gone), at each bound:
a fault must never be cleared while its cause is still there, and must clear once it is gone.
Lockouts never clear by acknowledgement (a technician resets them)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from controller.model.config import load_config
from controller.model.faults import FAULT_CODES, Fault, Severity
from controller.model.readings import ErrorZone, PadReading, ReadingError, Readings
from controller.safety.monitor import OVERTEMP_CLEAR_MARGIN_C, SafetyMonitor

CFG = load_config()
NOW = 100.0
MONITOR = SafetyMonitor(CFG)


def readings(pad_c=(30.0, 30.0), pad_read_s=NOW, pressure=0.0, current_a=0.0, estop=False, errors=(),
             **overrides) -> Readings:
    pressures = {c: pressure for c in CFG.chamber_names}
    pressures.update(overrides.get("pressures", {}))
    return Readings(t_s=NOW, pads={p: PadReading(pad_c[0], pad_c[1], pad_read_s) for p in CFG.pad_names},
                    pressure_mmhg=pressures, pressure_t_s={c: NOW for c in CFG.chamber_names},
                    roller_current_a={r: current_a for r in CFG.roller_names}, estop_tripped=estop,
                    errors=tuple(errors))


def gone(code, zone, r) -> bool:
    return MONITOR.cause_gone(Fault.make(code, zone, 1.0, "test"), r, NOW)


def test_the_clear_margin_is_2_c():
    assert OVERTEMP_CLEAR_MARGIN_C == 2.0


@pytest.mark.parametrize("temps,cleared", [
    ((42.99, 30.0), True),
    ((43.0, 30.0), False),  # 45 - 2 °C: not yet
    ((30.0, 43.0), False),  # either sensor
    ((44.0, 44.0), False),
    ((math.nan, 30.0), False),  # no reading is not a cool reading
    ((-1.0, 30.0), False),  # implausible
])
def test_overtemp_clears_only_2_c_below_the_trip_on_both_sensors(temps, cleared):
    assert gone("overtemp", "left_calf", readings(pad_c=temps)) is cleared


@pytest.mark.parametrize("read_age_s,cleared", [(0.0, True), (0.99, True), (1.0, False), (5.0, False)])
def test_a_heat_fault_needs_a_reading_younger_than_1_s(read_age_s, cleared):
    r = readings(pad_read_s=NOW - read_age_s)
    for code in ("overtemp", "temp_sensor_range", "temp_sensor_disagree", "temp_stale"):
        assert gone(code, "left_calf", r) is cleared, code


@pytest.mark.parametrize("temps,cleared", [
    ((30.0, 33.0), True),  # 3 °C apart is within the limit
    ((30.0, 33.01), False),
    ((33.01, 30.0), False),
    ((0.0, 3.0), True),
    ((-0.5, 2.0), False),  # close together but implausible
])
def test_disagreeing_sensors_clear_once_within_3_c(temps, cleared):
    assert gone("temp_sensor_disagree", "left_calf", readings(pad_c=temps)) is cleared


@pytest.mark.parametrize("temps,cleared", [((0.0, 85.0), True), ((85.01, 30.0), False), ((30.0, -0.01), False),
                                           ((math.inf, 30.0), False)])
def test_a_range_fault_clears_once_both_sensors_read_0_to_85_c(temps, cleared):
    assert gone("temp_sensor_range", "right_foot", readings(pad_c=temps)) is cleared


def test_a_heat_fault_is_judged_on_its_own_pad():
    r = readings()
    hot = replace(r, pads={**r.pads, "left_calf": PadReading(44.0, 44.0, NOW)})
    assert not gone("overtemp", "left_calf", hot)
    assert gone("overtemp", "right_calf", hot)


@pytest.mark.parametrize("pressure,cleared", [
    (-20.0, True), (9.99, True),  # believable and below 10 mmHg
    (10.0, False), (-20.01, False), (math.nan, False),
])
def test_a_pressure_fault_clears_once_every_chamber_is_empty(pressure, cleared):
    for code in ("overpressure", "pressure_sensor_range", "fill_failure", "hold_too_long", "pressure_sensor_frozen"):
        assert gone(code, "left_foot", readings(pressure=pressure)) is cleared, code


def test_one_chamber_still_full_keeps_a_pressure_fault():
    assert not gone("fill_failure", "left_foot", readings(pressures={"right_thigh": 30.0}))


@pytest.mark.parametrize("current_a,cleared", [(0.0, True), (1.5, True), (-1.5, True), (1.51, False), (-1.51, False),
                                               (math.nan, False)])
def test_a_roller_overcurrent_clears_at_or_below_1_5_a(current_a, cleared):
    assert gone("roller_overcurrent", "left_calf", readings(current_a=current_a)) is cleared


def test_a_roller_overcurrent_of_a_roller_not_read_stays():
    r = readings()
    assert not gone("roller_overcurrent", "left_calf", replace(r, roller_current_a={}))


def test_estop_clears_only_once_released():
    assert gone("estop", None, readings(estop=False))
    assert not gone("estop", None, readings(estop=True))


@pytest.mark.parametrize("code", ["session_too_long", "tick_late"])
def test_events_clear_at_once(code):
    assert gone(code, None, readings())


@pytest.mark.parametrize("code", sorted(c for c, s in FAULT_CODES.items() if s.severity is Severity.LOCKOUT))
def test_lockouts_never_clear_by_acknowledgement(code):
    assert not gone(code, None, readings())
    assert not gone(code, "left_calf", readings())


def test_a_stop_fault_raised_as_a_lockout_never_clears():
    f = Fault.make("estop", None, 1.0, "x")
    f = Fault(f.code, Severity.LOCKOUT, f.zone, f.t_s, f.message, f.readings)
    assert not MONITOR.cause_gone(f, readings(), NOW)


@pytest.mark.parametrize("zone,r,cleared", [
    ("pad:left_calf", readings(), True),
    ("pad:left_calf", readings(pad_read_s=NOW - 1.0), False),  # not read for 1 s
    ("pad:left_calf", readings(pad_read_s=NOW - 0.99), True),
    ("pad:left_calf", readings(pad_c=(math.nan, 30.0)), False),
    ("pad:left_calf", readings(pad_c=(30.0, math.nan)), False),
    ("chamber:left_foot", readings(), True),
    ("chamber:left_foot", readings(pressure=math.nan), False),
    ("roller:left_calf", readings(), True),
    ("roller:left_calf", readings(current_a=math.nan), False),
    ("machine:expander", readings(), True),
    ("pad:left_calf", readings(errors=[ReadingError(ErrorZone("pad", "left_calf"), "bus")]), False),
    ("machine:expander", readings(errors=[ReadingError(ErrorZone("machine", "expander"), "bus")]), False),
    ("pad:left_calf", readings(errors=[ReadingError(ErrorZone("pad", "right_calf"), "bus")]), True),
])
def test_a_chip_error_clears_once_its_zone_reads_cleanly(zone, r, cleared):
    assert gone("chip_error", zone, r) is cleared


def test_a_chip_error_of_a_roller_not_read_stays():
    assert not gone("chip_error", "roller:left_calf", replace(readings(), roller_current_a={}))


def test_the_monitor_without_outputs_or_context_assumes_nothing_is_powered():
    """The first tick has no outputs written yet and may have no context: the monitor then
    judges against the safe outputs (relay open, every vent open) and an empty context."""
    monitor = SafetyMonitor(CFG)
    assert monitor.check(readings(), None, NOW) == []
    monitor = SafetyMonitor(CFG)
    faults = monitor.check(readings(pad_c=(45.0, 30.0), estop=True), None, NOW)
    assert {f.code for f in faults} == {"overtemp", "estop"}

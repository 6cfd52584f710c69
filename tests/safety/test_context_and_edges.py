"""Edges of the interlocks' shared helpers and of the gate, as explicit examples: what a fault
message calls a zone and a value, what a missing reading is, which readings are plausible (at
0 °C and 85 °C exactly), and what the gate makes of values that are not numbers."""

from __future__ import annotations

import math

import pytest

from controller.model.config import load_config
from controller.model.limits import PadCommissioning, SafetyLimits
from controller.model.outputs import Outputs
from controller.model.readings import ErrorZone, Readings
from controller.safety.context import (
    NOT_READ,
    Powered,
    ZoneNames,
    fmt_c,
    fmt_g,
    fmt_mmhg,
    pad_reading,
    plausible_c,
    pressure_of,
)
from controller.safety.gate import gate

CFG = load_config()
NAMES = ZoneNames(CFG)
PADS, CHAMBERS, ROLLERS = CFG.pad_names, CFG.chamber_names, CFG.roller_names


def test_zones_are_named_as_a_person_says_them():
    assert NAMES.pad("left_calf") == "left calf pad"
    assert NAMES.chamber("right_thigh") == "right thigh chamber"
    assert NAMES.roller("right_foot") == "right foot roller"
    # a zone the config lacks still gets a readable name, never None
    assert (NAMES.pad("x"), NAMES.chamber("x"), NAMES.roller("x")) == ("pad x", "chamber x", "roller x")


@pytest.mark.parametrize("zone,words", [
    (ErrorZone("pad", "left_foot"), "left foot pad"),
    (ErrorZone("chamber", "left_foot"), "left foot chamber"),
    (ErrorZone("roller", "left_foot"), "left foot roller"),
    (ErrorZone("machine", "expander"), "expander"),
])
def test_a_chip_error_names_its_zone(zone, words):
    assert NAMES.error_zone(zone) == words


@pytest.mark.parametrize("value,c,mmhg", [
    (44.96, "45.0 °C", "45.0 mmHg"),
    (-3.04, "-3.0 °C", "-3.0 mmHg"),
    (math.inf, "+inf", "+inf"),  # an open or shorted sensor, said so
    (-math.inf, "-inf", "-inf"),
    (math.nan, "no value", "no value"),
    (0.0, "0.0 °C", "0.0 mmHg"),
])
def test_values_in_messages(value, c, mmhg):
    assert fmt_c(value) == c and fmt_mmhg(value) == mmhg


def test_limits_in_messages_read_as_in_the_table():
    assert [fmt_g(v) for v in (45.0, 0.2, 1.5, 150.0)] == ["45", "0.2", "1.5", "150"]


def test_a_missing_reading_is_not_a_number_never_a_default():
    empty = Readings(t_s=1.0, pads={}, pressure_mmhg={}, pressure_t_s={}, roller_current_a={}, estop_tripped=False)
    assert pad_reading(empty, "left_calf") is NOT_READ
    assert math.isnan(NOT_READ.temp_c) and math.isnan(NOT_READ.temp2_c) and NOT_READ.t_s == -math.inf
    assert math.isnan(pressure_of(empty, "left_foot"))


@pytest.mark.parametrize("temp_c,ok", [
    (0.0, True), (85.0, True), (36.6, True),  # the README's 0-85 °C, both ends included
    (-0.01, False), (85.01, False), (math.nan, False), (math.inf, False), (-math.inf, False),
])
def test_plausible_readings_are_0_to_85_c(temp_c, ok):
    assert plausible_c(temp_c, SafetyLimits()) is ok


@pytest.mark.parametrize("relay,pump,pumping", [(True, 0.3, True), (True, 0.0, False), (False, 0.3, False)])
def test_the_pump_runs_only_with_the_relay_closed(relay, pump, pumping):
    out = Outputs.safe(PADS, CHAMBERS, ROLLERS).with_(relay_closed=relay, pump_duty=pump)
    powered = Powered(out)
    assert powered.pumping is pumping and powered.relay is relay and powered.out is out


@pytest.mark.parametrize("junk", [None, "full", object(), [1.0], math.nan])
def test_the_gate_turns_anything_that_is_not_a_number_into_off(junk):
    off = Outputs.safe(PADS, CHAMBERS, ROLLERS)
    wanted = off.with_(relay_closed=True, pump_duty=junk,
                       heater_duty={p: junk for p in PADS},
                       roller_speed={r: junk for r in ROLLERS},
                       fill_open={**off.fill_open, "left_foot": True}, vent_open={**off.vent_open, "left_foot": False})
    out = gate(wanted, [], PADS, CHAMBERS, ROLLERS)
    assert out.pump_duty == 0.0
    assert set(out.heater_duty.values()) == {0.0} and set(out.roller_speed.values()) == {0.0}


@pytest.mark.parametrize("value,clamped", [(-0.5, 0.0), (0.0, 0.0), (0.4, 0.4), (1.0, 1.0), (1.5, 1.0),
                                           (math.inf, 1.0), (-math.inf, 0.0)])
def test_the_gate_clamps_duties_into_0_to_1(value, clamped):
    off = Outputs.safe(PADS, CHAMBERS, ROLLERS)
    wanted = off.with_(relay_closed=True, heater_duty={"left_calf": value},
                       fill_open={**off.fill_open, "left_foot": True}, vent_open={**off.vent_open, "left_foot": False},
                       pump_duty=value)
    out = gate(wanted, [], PADS, CHAMBERS, ROLLERS)
    assert out.heater_duty["left_calf"] == clamped and out.pump_duty == clamped


@pytest.mark.parametrize("value,clamped", [(-1.5, -1.0), (-1.0, -1.0), (0.3, 0.3), (1.0, 1.0), (2.0, 1.0)])
def test_the_gate_clamps_roller_speeds_into_minus_1_to_1(value, clamped):
    wanted = Outputs.safe(PADS, CHAMBERS, ROLLERS).with_(relay_closed=True, roller_speed={"left_calf": value})
    assert gate(wanted, [], PADS, CHAMBERS, ROLLERS).roller_speed["left_calf"] == clamped


@pytest.mark.parametrize("rise_c,window_s", [(1e-3, 1e-3), (4.1, 60.0)])
def test_commissioning_takes_any_positive_finite_rise_and_window(rise_c, window_s):
    assert PadCommissioning(rise_c, window_s).window_s == window_s


@pytest.mark.parametrize("rise_c,window_s,field", [
    (0.0, 60.0, "rise_c = 0.0 must be a finite number above 0"),
    (math.nan, 60.0, "rise_c = nan must be a finite number above 0"),
    (4.1, 0.0, "window_s = 0.0 must be a finite number above 0"),
    (4.1, 0.5, None),  # a short window is allowed: the outer bounds live in heating_check
    (4.1, math.inf, "window_s = inf must be a finite number above 0"),
])
def test_commissioning_refuses_a_zero_or_non_finite_rise_or_window(rise_c, window_s, field):
    if field is None:
        assert PadCommissioning(rise_c, window_s).window_s == window_s
        return
    with pytest.raises(ValueError) as err:
        PadCommissioning(rise_c, window_s)
    assert str(err.value) == field

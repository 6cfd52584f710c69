"""Outputs driven by hand: one parser for every name the socket sends, typed values laid over
what the controllers want, and the gate still the last word."""

import pytest

from controller.model.config import load_config
from controller.model.faults import Fault
from controller.model.manual import ManualOverrides, ManualTarget, OutputKind
from controller.model.outputs import Outputs
from controller.safety.gate import gate

CFG = load_config()
ZONES = dict(pads=CFG.pad_names, chambers=CFG.chamber_names, rollers=CFG.roller_names)


def parse(text):
    return ManualTarget.parse(text, **ZONES)


def idle() -> Outputs:
    return Outputs.safe(CFG.pad_names, CFG.chamber_names, CFG.roller_names).with_(relay_closed=True)


@pytest.mark.parametrize("text, kind, zone", [
    ("pump", OutputKind.PUMP, ""),
    ("heater:left_calf", OutputKind.HEATER, "left_calf"),
    ("heater.left_calf", OutputKind.HEATER, "left_calf"),  # a dot for the colon, as before
    ("fill:right_thigh", OutputKind.FILL, "right_thigh"),
    ("vent:left_foot", OutputKind.VENT, "left_foot"),
    ("roller:right_calf", OutputKind.ROLLER, "right_calf"),
])
def test_every_output_name_parses_to_its_kind_and_zone_and_prints_back(text, kind, zone):
    target = parse(text)
    assert (target.kind, target.zone) == (kind, zone)
    assert str(target) == text.replace(".", ":")
    assert parse(str(target)) == target


@pytest.mark.parametrize("text", ["laser", "heater", "heater:", "heater:nowhere", "fill:left_calf_pad",
                                  "roller:left_thigh", "pump:left_foot", "HEATER:left_calf", ""])
def test_unknown_outputs_are_refused_naming_every_known_one(text):
    with pytest.raises(ValueError) as err:
        parse(text)
    message = str(err.value)
    assert f"unknown output {text!r}" in message
    for known in ("pump", "heater:left_calf", "fill:left_foot", "vent:right_thigh", "roller:right_foot"):
        assert known in message


def test_values_are_held_to_each_kind_of_output_range():
    manual = ManualOverrides()
    manual.set(parse("roller:left_calf"), -1.0)  # a roller runs both ways
    manual.set(parse("heater:left_calf"), 1.0)
    for text, value in [("heater:left_calf", -0.1), ("heater:left_calf", 1.01), ("pump", 3.0),
                        ("roller:left_calf", -1.01), ("fill:left_foot", float("nan"))]:
        with pytest.raises(ValueError, match="out of range"):
            manual.set(parse(text), value)
    assert manual.get(parse("heater:left_calf")) == 1.0  # a refused value leaves the held one


def test_overrides_lay_over_what_the_controllers_want():
    manual = ManualOverrides()
    wanted = idle()
    assert manual.apply(wanted) is wanted and not manual
    manual.set(parse("pump"), 0.8)
    manual.set(parse("fill:left_foot"), 1.0)
    manual.set(parse("vent:left_foot"), 0.0)
    manual.set(parse("vent:left_calf"), 0.6)  # a valve opens above one half
    manual.set(parse("heater:right_calf"), 0.4)
    manual.set(parse("roller:left_foot"), -0.5)
    out = manual.apply(wanted)
    assert out.pump_duty == 0.8
    assert out.fill_open["left_foot"] is True and out.vent_open["left_foot"] is False
    assert out.vent_open["left_calf"] is True
    assert out.heater_duty == {**wanted.heater_duty, "right_calf": 0.4}
    assert out.roller_speed == {**wanted.roller_speed, "left_foot": -0.5}
    manual.release(parse("pump"), parse("heater:right_calf"))
    out = manual.apply(wanted)
    assert out.pump_duty == 0.0 and out.heater_duty == wanted.heater_duty
    manual.clear()
    assert manual.apply(wanted) is wanted


def test_a_heater_held_by_hand_is_still_cut_by_a_heat_fault_at_the_gate():
    manual = ManualOverrides()
    manual.set(parse("heater:left_calf"), 1.0)
    manual.set(parse("pump"), 1.0)
    manual.set(parse("fill:left_foot"), 1.0)
    manual.set(parse("vent:left_foot"), 0.0)
    wanted = manual.apply(idle())
    pads, chambers, rollers = CFG.pad_names, CFG.chamber_names, CFG.roller_names
    assert gate(wanted, [], pads, chambers, rollers).heater_duty["left_calf"] == 1.0
    heat = Fault.make("temp_sensor_disagree", "left_calf", 0.0, "left_calf sensors disagree")
    assert gate(wanted, [heat], pads, chambers, rollers).heater_duty["left_calf"] == 0.0
    pressure = Fault.make("fill_failure", "left_foot", 0.0, "left_foot did not fill")
    vented = gate(wanted, [pressure], pads, chambers, rollers)
    assert vented.pump_duty == 0.0 and vented.vent_open["left_foot"] and not vented.fill_open["left_foot"]

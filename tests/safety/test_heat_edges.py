"""Heat interlocks at their exact bounds: either sensor alone at exactly 45 °C trips, and a pad
found quiet on earlier ticks never stops the other pads being checked."""

from __future__ import annotations

import math

import pytest

from tests.safety.rig import LIM, THERMAL_DT, SafetyRig, codes


@pytest.mark.parametrize("temps", [(45.0, 44.0), (44.0, 45.0)], ids=["thermistor", "digital sensor"])
def test_either_sensor_alone_at_exactly_45_c_trips(temps):
    rig = SafetyRig(dt_s=THERMAL_DT)
    rig.temps["left_calf"] = (44.99, 44.0)
    assert "overtemp" not in codes(rig.tick())
    rig.temps["left_calf"] = temps
    (fault,) = [f for f in rig.tick() if f.code == "overtemp"]
    assert fault.zone == "left_calf" and fault.t_s == rig.t and temps == (fault.readings["temp_c"], fault.readings["temp2_c"])
    assert LIM.overtemp_trip_c == 45.0


@pytest.mark.parametrize("pad", ["left_calf", "right_foot", "right_calf"])
def test_quiet_pads_before_it_never_hide_a_bad_reading(pad):
    """Between thermal reads every pad's reading is unchanged (same value, same read time): the
    monitor remembers it as quiet and skips the full check; the pad after it still gets checked."""
    rig = SafetyRig(dt_s=1 / 64)
    rig.tick()
    rig.frozen_pads.update(rig.config.pad_names)  # no thermal read for a while
    for _ in range(3):
        assert rig.tick() == []  # found quiet
    rig.frozen_pads.discard(pad)  # this pad is read again, and reads open circuit
    rig.temps[pad] = (-math.inf, 30.0)
    faults = [f for f in rig.tick() if f.code == "temp_sensor_range"]
    assert [f.zone for f in faults] == [pad]


def test_a_quiet_pad_whose_reading_changes_is_checked_again_at_once():
    rig = SafetyRig(dt_s=THERMAL_DT)
    for _ in range(3):
        rig.tick()
    rig.temps["left_foot"] = (30.0, 33.5)
    rig.run(1.0, "")  # disagreeing for 1 s
    assert "temp_sensor_disagree" in codes(rig.tick())


@pytest.mark.parametrize("value,why", [(-0.01, "open circuit or unplugged?"), (0.0, None), (85.0, None),
                                       (85.01, "short circuit?")])
def test_the_range_fault_says_which_way(value, why):
    rig = SafetyRig(dt_s=THERMAL_DT)
    rig.temps["left_calf"] = (value, 30.0)
    faults = [f for f in rig.tick() if f.code == "temp_sensor_range"]
    if why is None:
        assert faults == []
    else:
        assert faults[0].message.endswith(f"({why})") and faults[0].t_s == rig.t


def test_the_overtemp_message_names_the_hotter_sensor():
    rig = SafetyRig(dt_s=THERMAL_DT)
    rig.temps["left_calf"] = (45.5, 46.0)
    (fault,) = [f for f in rig.tick() if f.code == "overtemp"]
    assert fault.message.startswith("left calf pad: digital sensor at 46.0 °C")


def test_one_implausible_sensor_is_a_range_fault_not_a_disagreement():
    rig = SafetyRig(dt_s=THERMAL_DT)
    rig.temps["left_calf"] = (-math.inf, 30.0)
    for _ in range(8):  # 2 s
        assert "temp_sensor_disagree" not in codes(rig.tick())

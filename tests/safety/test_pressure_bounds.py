"""The pressure checks exactly at their README bounds: a fill that reaches exactly half its target
within 20 s, a chamber held at exactly 10 mmHg, a reading that goes missing during a hold, and
the fill clock restarting only when the chamber vents."""

from __future__ import annotations

import math

import pytest

from tests.safety.rig import FAST_DT, LIM, SafetyRig

CH = "left_calf"
HALF_OF_80 = 40.0


def wobble(value):
    """A live sensor at ``value``: alternately exact and one LSB-ish above (never frozen)."""
    def each(r):
        r.pressure[CH] = value + (FAST_DT if r.n % 2 else 0.0)
    return each


def test_a_fill_reaching_exactly_half_its_target_passes():
    rig = SafetyRig()
    rig.start_fill(CH, target=80.0)
    rig.pressure[CH] = HALF_OF_80  # exactly, every tick (the frozen-sensor check is not this test's)
    assert rig.run(LIM.fill_timeout_s + 5.0, "fill_failure") is None


def test_a_fill_just_short_of_half_fails_at_20_s():
    rig = SafetyRig()
    rig.start_fill(CH, target=80.0)
    start = rig.t + FAST_DT
    fault = rig.run(LIM.fill_timeout_s + 5.0, "fill_failure", wobble(HALF_OF_80 - 2 * FAST_DT))
    assert fault is not None and fault.t_s == start + 20.0


def test_even_a_small_target_is_checked():
    rig = SafetyRig()
    rig.start_fill(CH, target=1.0)
    assert rig.run(25.0, "fill_failure", wobble(0.0)) is not None


def test_no_target_is_no_fill_to_check():
    rig = SafetyRig()
    rig.start_fill(CH, target=0.0)
    assert rig.run(25.0, "fill_failure", wobble(0.0)) is None


def test_venting_ends_a_fill_attempt_and_the_next_fill_gets_its_own_20_s():
    rig = SafetyRig()
    rig.start_fill(CH, target=80.0)
    assert rig.run(15.0, "fill_failure", wobble(5.0)) is None
    rig.vent[CH], rig.fill[CH] = True, False  # the wave moves on: this chamber vents
    assert rig.run(2.0, "fill_failure", wobble(2.0)) is None
    rig.start_fill(CH, target=80.0)
    start = rig.t + FAST_DT
    fault = rig.run(30.0, "fill_failure", wobble(5.0))
    assert fault is not None and fault.t_s == start + 20.0


def test_a_brief_valve_closure_inside_a_fill_keeps_the_clock():
    rig = SafetyRig()
    rig.start_fill(CH, target=80.0)
    start = rig.t + FAST_DT
    assert rig.run(10.0, "fill_failure", wobble(5.0)) is None
    rig.fill[CH] = False  # a top-up pause, vent still shut
    assert rig.run(2.0, "fill_failure", wobble(5.0)) is None
    rig.fill[CH] = True
    fault = rig.run(30.0, "fill_failure", wobble(5.0))
    assert fault is not None and fault.t_s == start + 20.0


def test_reaching_half_once_is_enough_for_that_fill():
    rig = SafetyRig()
    rig.start_fill(CH, target=80.0)
    assert rig.run(5.0, "fill_failure", wobble(45.0)) is None
    assert rig.run(30.0, "fill_failure", wobble(30.0)) is None  # sagging below half later is the shortfall warning's job


def test_a_chamber_held_at_exactly_10_mmhg_is_held():
    rig = SafetyRig()
    rig.close_chamber(CH)
    start = rig.t + FAST_DT
    fault = rig.run(LIM.max_hold_s + 5.0, "hold_too_long", wobble(LIM.vent_below_mmhg))
    assert fault is not None and fault.t_s == start + 60.0 and fault.zone == CH


def test_a_chamber_just_under_10_mmhg_is_empty_not_held():
    rig = SafetyRig()
    rig.close_chamber(CH)
    assert rig.run(LIM.max_hold_s + 5.0, "hold_too_long", wobble(LIM.vent_below_mmhg - 2 * FAST_DT)) is None


def test_a_reading_lost_during_a_hold_does_not_restart_the_hold_clock():
    rig = SafetyRig()
    rig.close_chamber(CH)
    start = rig.t + FAST_DT
    assert rig.run(30.0, "hold_too_long", wobble(40.0)) is None
    rig.pressure[CH] = math.nan  # one missed read (the stale check handles longer gaps)
    rig.tick()
    fault = rig.run(40.0, "hold_too_long", wobble(40.0))
    assert fault is not None and fault.t_s == start + 60.0


def test_a_reading_lost_with_no_hold_running_starts_none():
    rig = SafetyRig()
    rig.close_chamber(CH)
    rig.pressure[CH] = math.nan
    assert rig.run(0.5, "hold_too_long") is None
    start = rig.t + FAST_DT
    fault = rig.run(70.0, "hold_too_long", wobble(40.0))
    assert fault is not None and fault.t_s == start + 60.0


def test_each_chamber_has_its_own_hold_clock():
    rig = SafetyRig()
    rig.close_chamber(CH)
    rig.close_chamber("right_foot")
    rig.pressure["right_foot"] = 40.0
    start = rig.t + FAST_DT

    def both(r):
        wobble(40.0)(r)
        r.pressure["right_foot"] = 40.0 + (FAST_DT if r.n % 2 else 0.0) if r.t < 30.0 else 0.0

    fault = rig.run(70.0, "hold_too_long", both)
    assert fault is not None and fault.zone == CH and fault.t_s == start + 60.0


def test_a_new_fill_after_a_vent_must_reach_half_again():
    rig = SafetyRig()
    rig.start_fill(CH, target=80.0)
    assert rig.run(5.0, "fill_failure", wobble(45.0)) is None  # this one made it
    rig.vent[CH], rig.fill[CH] = True, False
    assert rig.run(2.0, "fill_failure", wobble(1.0)) is None
    rig.start_fill(CH, target=80.0)
    start = rig.t + FAST_DT
    fault = rig.run(30.0, "fill_failure", wobble(5.0))  # this one does not
    assert fault is not None and fault.t_s == start + 20.0


def test_a_zero_target_is_not_a_fill_even_below_zero():
    rig = SafetyRig()
    rig.start_fill(CH, target=0.0)
    assert rig.run(25.0, "fill_failure", wobble(-1.0)) is None


def test_after_emptying_a_chamber_starts_a_new_hold():
    rig = SafetyRig()
    rig.close_chamber(CH)
    assert rig.run(40.0, "hold_too_long", wobble(40.0)) is None
    assert rig.run(2.0, "hold_too_long", wobble(2.0)) is None  # emptied
    start = rig.t + FAST_DT
    fault = rig.run(70.0, "hold_too_long", wobble(40.0))
    assert fault is not None and fault.t_s == start + 60.0


def test_a_chamber_that_starts_holding_later_gets_its_own_60_s():
    rig = SafetyRig()
    rig.close_chamber(CH)
    rig.close_chamber("right_foot")
    assert rig.run(30.0, "hold_too_long", wobble(40.0)) is None  # CH holds, right_foot empty
    later = rig.t + FAST_DT

    def both(r):
        r.pressure[CH] = 0.0 if r.t >= 40.0 else 40.0 + (FAST_DT if r.n % 2 else 0.0)
        r.pressure["right_foot"] = 40.0 + (FAST_DT if r.n % 2 else 0.0)

    fault = rig.run(70.0, "hold_too_long", both)
    assert fault is not None and fault.zone == "right_foot" and fault.t_s == later + 60.0


def test_a_reading_flipping_between_0_and_minus_0_is_not_frozen():
    rig = SafetyRig()
    rig.start_fill(CH, target=80.0)

    def flip(r):
        r.pressure[CH] = -0.0 if r.n % 2 else 0.0

    assert rig.run(6.0, "pressure_sensor_frozen", flip) is None


def venting_from(rig, start_mmhg):
    rig.pressure[CH] = start_mmhg
    rig.close_chamber(CH)
    rig.tick()
    rig.vent[CH] = True
    return rig.t + FAST_DT  # the vent opens on the next tick


@pytest.mark.parametrize("settles_at,fails", [(9.99, False), (10.0, True)])
def test_a_vent_must_get_below_10_mmhg_within_5_s(settles_at, fails):
    rig = SafetyRig()
    opened = venting_from(rig, 60.0)

    def drops(r):
        r.pressure[CH] = max(settles_at, 60.0 - 25.0 * (r.t + FAST_DT - opened))

    fault = rig.run(10.0, "vent_failure", drops)
    assert (fault is not None) is fails
    if fails:
        assert fault.t_s == opened + 5.0


def test_a_vent_that_emptied_the_chamber_is_not_judged_again_in_that_vent():
    rig = SafetyRig()
    opened = venting_from(rig, 60.0)

    def empties_then_reads_higher(r):
        elapsed = r.t + FAST_DT - opened
        r.pressure[CH] = 60.0 if elapsed < 1.0 else 5.0 if elapsed < 3.0 else 20.0 + (FAST_DT if r.n % 2 else 0.0)

    assert rig.run(10.0, "vent_failure", empties_then_reads_higher) is None


def test_a_vent_beginning_at_exactly_10_mmhg_is_judged():
    rig = SafetyRig()
    opened = venting_from(rig, 10.0)
    faults = []
    for _ in range(round(6.0 / FAST_DT)):
        faults += rig.tick()
    assert [f.t_s for f in faults if f.code == "vent_failure"][0] == opened + 5.0  # (then every tick it lasts)
    assert "pressure_sensor_frozen" not in {f.code for f in faults}  # at 10 mmHg no air is moving


def test_a_chamber_missing_from_the_outputs_is_vented_and_judged_so():
    rig = SafetyRig()
    rig.pressure[CH] = 60.0
    del rig.fill[CH], rig.vent[CH]  # unpowered valves: fill shut, vent open
    rig.pump = 0.8
    start = rig.t + FAST_DT
    fault = rig.run(10.0, "vent_failure", wobble(60.0))
    assert fault is not None and fault.t_s == start + 5.0


def test_a_pressure_not_read_is_recorded_with_its_last_value_and_age():
    rig = SafetyRig()
    rig.tick()
    last_good = rig.t
    rig.pressure[CH] = math.nan
    fault = rig.run(3.0, "pressure_sensor_range")
    assert fault.to_dict() == {
        "code": "pressure_sensor_range", "severity": "stop", "zone": CH, "t_s": last_good + 1.0,
        "message": "left calf chamber: pressure not read for 1.0 s",
        "readings": {"pressure_mmhg": "nan", "age_s": 1.0}}


def test_a_vent_failure_with_a_reading_that_never_moved_says_the_sensor_may_be_frozen():
    rig = SafetyRig()
    opened = venting_from(rig, 50.0)
    fault = rig.run(10.0, "vent_failure")
    assert fault.t_s == opened + 5.0
    assert fault.message == ("left calf chamber: still 50.0 mmHg 5.0 s after venting began at 50.0 mmHg "
                             "(must be below 10 mmHg within 5 s): vent valve stuck closed? "
                             "(the reading has not changed at all: the sensor may be frozen)")

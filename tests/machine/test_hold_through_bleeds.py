"""The safety layer's hold limit (60 s, no tourniquet) is not reset by an anchor's bleed
pulses: a vent opened for a tick or two that leaves the chamber at pressure eases it, it does
not release it. A real vent (open for ``HOLD_RELEASE_S``, or the chamber emptied) still ends
the hold."""

from __future__ import annotations

from controller.safety.pressure_checks import HOLD_RELEASE_S
from tests.safety.rig import FAST_DT, LIM, SafetyRig

CH = "left_foot"


def live(value):
    def each(r):
        r.pressure[CH] = value + (FAST_DT if r.n % 2 else 0.0)
    return each


def bleed_pulses(rig: SafetyRig, every_s: float, for_s: float, at_mmhg: float):
    """Open the vent for one tick every ``every_s``, the chamber staying at pressure."""
    end = rig.t + for_s
    while rig.t < end:
        rig.vent[CH] = True
        fault = rig.run(FAST_DT, "hold_too_long", live(at_mmhg))
        rig.vent[CH] = False
        fault = fault or rig.run(every_s - FAST_DT, "hold_too_long", live(at_mmhg))
        if fault is not None:
            return fault
    return None


def test_bleed_pulses_do_not_restart_the_hold_clock():
    rig = SafetyRig()
    rig.close_chamber(CH)
    start = rig.t + FAST_DT
    assert rig.run(30.0, "hold_too_long", live(55.0)) is None
    fault = bleed_pulses(rig, every_s=0.6, for_s=40.0, at_mmhg=52.0)
    assert fault is not None and abs(fault.t_s - (start + LIM.max_hold_s)) <= 0.6 + FAST_DT


def test_a_vent_open_just_under_the_release_time_is_still_a_hold():
    rig = SafetyRig()
    rig.close_chamber(CH)
    start = rig.t + FAST_DT
    assert rig.run(40.0, "hold_too_long", live(50.0)) is None
    rig.vent[CH] = True
    assert rig.run(HOLD_RELEASE_S - 2 * FAST_DT, "hold_too_long", live(45.0)) is None
    rig.vent[CH] = False
    fault = rig.run(30.0, "hold_too_long", live(45.0))
    assert fault is not None and abs(fault.t_s - (start + LIM.max_hold_s)) <= FAST_DT


def test_a_real_vent_still_ends_the_hold():
    rig = SafetyRig()
    rig.close_chamber(CH)
    assert rig.run(40.0, "hold_too_long", live(50.0)) is None
    rig.vent[CH] = True
    assert rig.run(HOLD_RELEASE_S + FAST_DT, "hold_too_long", live(30.0)) is None  # open long enough
    rig.vent[CH] = False
    start = rig.t + FAST_DT
    fault = rig.run(70.0, "hold_too_long", live(40.0))
    assert fault is not None and abs(fault.t_s - (start + LIM.max_hold_s)) <= FAST_DT

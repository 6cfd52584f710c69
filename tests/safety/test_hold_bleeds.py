"""The hold check's bleed rule at its bounds: a vent open for less than ``HOLD_RELEASE_S``
(0.5 s) that leaves the chamber at or above ``vent_below_mmhg`` (10 mmHg) eases a chamber, it
does not release it, so it does not restart the 60 s hold clock (no tourniquet by bleeding a
little now and then). A vent open 0.5 s, a chamber below 10 mmHg, or a reading lost during
the vent (not known to be held) ends the hold. The machine-level view of the same rule (an
anchor's bleed pulses in a real program) is ``tests/machine/test_hold_through_bleeds.py``.
"""

from __future__ import annotations

import math

from controller.safety.pressure_checks import HOLD_RELEASE_S
from tests.safety.rig import FAST_DT, LIM, SafetyRig

CH = "left_calf"
HELD_MMHG = 40.0


def _hold_with_vents(rig: SafetyRig, vents: list[tuple[float, float]], during=None):
    """Every tick, before it runs: the vent open on ticks at ``a <= t < b`` for each (a, b) in
    ``vents`` (times after the hold's first tick), closed otherwise; the chamber held at 40 mmHg
    and live (one LSB-ish of noise), or ``during(rig, t)`` while the vent is open."""
    start = rig.t + FAST_DT

    def each(r):
        t = r.t + FAST_DT - start  # the coming tick's time into the hold
        open_now = any(a <= t < b for a, b in vents)
        r.vent[CH], r.fill[CH] = open_now, False
        r.pressure[CH] = HELD_MMHG + (FAST_DT if r.n % 2 else 0.0)
        if open_now and during is not None:
            during(r, t)

    return start, each


def test_bleeds_that_leave_the_chamber_at_pressure_do_not_restart_the_hold_clock():
    """Three 0.25 s bleeds at 40 mmHg, 15 s apart: still one hold, tripping at exactly 60 s."""
    rig = SafetyRig()
    start, each = _hold_with_vents(rig, [(15.0, 15.25), (30.0, 30.25), (45.0, 45.25)])
    fault = rig.run(70.0, "hold_too_long", each)
    assert fault is not None and fault.zone == CH and fault.t_s == start + LIM.max_hold_s


def test_a_vent_open_for_exactly_0_5_s_ends_the_hold():
    """Open at 10 s and still open at 10.5 s: released there; the next hold starts when the vent
    closes again (10.5 s + one tick) and trips 60 s after that, not at 60 s."""
    assert HOLD_RELEASE_S == 0.5
    rig = SafetyRig()
    start, each = _hold_with_vents(rig, [(10.0, 10.5 + FAST_DT)])
    assert rig.run(65.0, "hold_too_long", each) is None
    fault = rig.run(10.0, "hold_too_long", each)
    assert fault is not None and fault.t_s == start + 10.5 + FAST_DT + LIM.max_hold_s


def test_a_vent_open_one_tick_short_of_0_5_s_does_not_end_the_hold():
    rig = SafetyRig()
    start, each = _hold_with_vents(rig, [(10.0, 10.5)])  # last open tick: 10.5 s - 1/64 s
    fault = rig.run(70.0, "hold_too_long", each)
    assert fault is not None and fault.t_s == start + LIM.max_hold_s


def test_a_brief_vent_leaving_exactly_10_mmhg_does_not_end_the_hold():
    """10 mmHg is still held (the hold's own bound is ``>=``), so a bleed down to exactly it is a bleed."""
    rig = SafetyRig()

    def at_the_bound(r, t):
        r.pressure[CH] = LIM.vent_below_mmhg

    start, each = _hold_with_vents(rig, [(20.0, 20.25)], at_the_bound)
    fault = rig.run(70.0, "hold_too_long", each)
    assert fault is not None and fault.t_s == start + LIM.max_hold_s


def test_a_brief_vent_with_the_reading_lost_ends_the_hold():
    """During a 0.25 s vent one reading is missing: the chamber is not known to be held, so the
    hold ends (a lost reading keeps a hold only while the vent stays closed)."""
    rig = SafetyRig()

    def lost_once(r, t):
        if t == 20.125:
            r.pressure[CH] = math.nan

    start, each = _hold_with_vents(rig, [(20.0, 20.25)], lost_once)
    assert rig.run(65.0, "hold_too_long", each) is None
    fault = rig.run(20.0, "hold_too_long", each)
    assert fault is not None and fault.t_s == start + 20.25 + LIM.max_hold_s


def test_the_60_s_running_out_during_a_bleed_trips_during_it():
    """A bleed from 59.75 s to 60.25 s: the hold trips at exactly 60 s, with the vent open."""
    rig = SafetyRig()
    start, each = _hold_with_vents(rig, [(LIM.max_hold_s - 0.25, LIM.max_hold_s + 0.25)])
    fault = rig.run(70.0, "hold_too_long", each)
    assert fault is not None and fault.zone == CH and fault.t_s == start + LIM.max_hold_s
    assert rig.vent[CH] is True
    assert fault.readings == {"pressure_mmhg": HELD_MMHG, "held_s": LIM.max_hold_s}

"""The profile cut (controller/safety/profile_cut.py), zone by zone, at the unit level: a wound
spares every zone of its leg, numbness only that leg's pads, and no leg flag cuts nothing. The
machine-level tests (tests/profile) hold the same on a running machine; these run in
milliseconds, so mutation testing reaches the cut too."""

from __future__ import annotations

from controller.model.config import load_config
from controller.model.outputs import Outputs
from controller.model.profile import Profile
from controller.safety.gate import NO_CUT, ZoneCut, gate
from controller.safety.profile_cut import profile_cut

CONFIG = load_config()
PADS, CHAMBERS, ROLLERS = CONFIG.pad_names, CONFIG.chamber_names, CONFIG.roller_names


def on_leg(zones, leg: str) -> frozenset[str]:
    return frozenset(z for z in zones if z.startswith(leg + "_"))


def test_a_wound_on_the_left_leg_cuts_every_left_zone_and_nothing_else():
    cut = profile_cut(Profile(wound_or_infection_left=True), CONFIG)
    assert cut == ZoneCut(pads=on_leg(PADS, "left"), chambers=on_leg(CHAMBERS, "left"),
                          rollers=on_leg(ROLLERS, "left"))
    assert cut.pads == {"left_foot", "left_calf"}
    assert cut.chambers == {"left_foot", "left_calf", "left_thigh"}
    assert cut.rollers == {"left_foot", "left_calf"}


def test_numbness_on_the_right_leg_cuts_only_its_pads():
    cut = profile_cut(Profile(numbness_or_poor_circulation_right=True), CONFIG)
    assert cut == ZoneCut(pads=frozenset({"right_foot", "right_calf"}))


def test_a_wound_on_one_leg_and_numbness_on_the_other_cut_each_by_its_own_rule():
    cut = profile_cut(Profile(wound_or_infection_left=True, numbness_or_poor_circulation_right=True), CONFIG)
    assert cut.pads == frozenset(PADS)  # left: spared; right: numb
    assert cut.chambers == on_leg(CHAMBERS, "left")
    assert cut.rollers == on_leg(ROLLERS, "left")


def test_person_level_flags_cut_no_zone():
    for profile in (Profile(), Profile(varicose_veins=True, pregnancy=True, suspected_clot=True),
                    Profile(unsure_or_recent_surgery=True)):
        assert profile_cut(profile, CONFIG) == NO_CUT


def everything_on() -> Outputs:
    return Outputs(heater_duty=dict.fromkeys(PADS, 0.6), fill_open=dict.fromkeys(CHAMBERS, True),
                   vent_open=dict.fromkeys(CHAMBERS, False), pump_duty=1.0,
                   roller_speed=dict.fromkeys(ROLLERS, -0.7), relay_closed=True)


def test_the_gate_applies_the_wound_cut_whatever_is_asked():
    out = gate(everything_on(), [], PADS, CHAMBERS, ROLLERS,
               profile_cut(Profile(wound_or_infection_right=True), CONFIG))
    assert out.heater_duty == {p: 0.0 if p.startswith("right") else 0.6 for p in PADS}
    assert out.fill_open == {c: not c.startswith("right") for c in CHAMBERS}
    assert out.vent_open == {c: c.startswith("right") for c in CHAMBERS}
    assert out.roller_speed == {r: 0.0 if r.startswith("right") else -0.7 for r in ROLLERS}
    assert out.pump_duty == 1.0 and out.relay_closed is True


def test_the_gate_applies_the_numbness_cut_to_that_legs_heat_only():
    out = gate(everything_on(), [], PADS, CHAMBERS, ROLLERS,
               profile_cut(Profile(numbness_or_poor_circulation_left=True), CONFIG))
    assert out.heater_duty == {p: 0.0 if p.startswith("left") else 0.6 for p in PADS}
    assert out.fill_open == dict.fromkeys(CHAMBERS, True) and out.vent_open == dict.fromkeys(CHAMBERS, False)
    assert out.roller_speed == dict.fromkeys(ROLLERS, -0.7)


def test_a_cut_naming_zones_this_machine_does_not_have_adds_none():
    cut = ZoneCut(pads=frozenset({"left_foot", "tail"}), chambers=frozenset({"left_foot", "tail"}),
                  rollers=frozenset({"left_foot", "tail"}))
    out = gate(everything_on(), [], PADS, CHAMBERS, ROLLERS, cut)
    assert set(out.heater_duty) == set(PADS) and set(out.roller_speed) == set(ROLLERS)
    assert set(out.fill_open) == set(out.vent_open) == set(CHAMBERS)
    assert out.heater_duty["left_foot"] == 0.0 and out.roller_speed["left_foot"] == 0.0
    assert out.vent_open["left_foot"] is True and out.fill_open["left_foot"] is False

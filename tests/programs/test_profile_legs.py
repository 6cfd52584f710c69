"""The leg rules of the profile (programs/profile.py) as the decision states them: a wound spares
its leg (named, with the leg that runs), numbness turns that leg's heat off (said only when the
program heats, and not again for a leg already spared), and both legs wounded refuses the
program. Exact sentences and typed notices, since the panel, legctl and MQTT show them."""

import pytest

from controller.model.notice import NoticeCode
from programs.library import load_library
from programs.profile import Profile, check_profile

WOUND = "a skin infection or an open wound"
NUMB = "numbness or poor circulation"


@pytest.fixture(scope="module")
def library():
    programs, errors = load_library()
    assert not errors
    return programs


def test_a_wound_on_one_leg_spares_it_and_names_the_leg_that_runs(library):
    decision = check_profile(library["warm_up"], 2, Profile(wound_or_infection_right=True))
    assert decision.allowed
    assert decision.spared_legs == {"right"} and decision.no_heat_legs == {"right"}
    (spared,) = [n for n in decision.notices if n.code is NoticeCode.LEG_SPARED]
    assert spared.leg == "right"
    assert spared.text == (f"the right leg is spared because of {WOUND}: no heat, compression or rollers on it; "
                           "the left leg runs")
    assert spared.text in decision.reasons


def test_numbness_on_one_leg_turns_its_heat_off_with_the_reason(library):
    decision = check_profile(library["warm_up"], 2, Profile(numbness_or_poor_circulation_left=True))
    assert decision.allowed and decision.spared_legs == frozenset() and decision.no_heat_legs == {"left"}
    assert [(n.code, n.leg, n.text) for n in decision.notices] == [
        (NoticeCode.HEAT_CAPPED, "left", f"heat is off on the left leg because of {NUMB}: a numb foot does not "
                                         "feel a burn")]
    assert decision.reasons == [decision.notices[0].text]


def test_numbness_with_a_program_that_never_heats_says_nothing_about_heat(library):
    assert library["quick_circulation"].max_heat_c is None
    decision = check_profile(library["quick_circulation"], 2, Profile(numbness_or_poor_circulation_left=True))
    assert decision.allowed and decision.notices == () and decision.reasons == []
    assert decision.no_heat_legs == {"left"}  # the cut still holds, whatever a command asks later


def test_a_leg_both_wounded_and_numb_is_said_to_be_spared_not_again_to_be_without_heat(library):
    decision = check_profile(library["warm_up"], 2, Profile(wound_or_infection_left=True,
                                                            numbness_or_poor_circulation=True))
    heat = [(n.leg, n.text) for n in decision.notices if n.code is NoticeCode.HEAT_CAPPED]
    assert heat == [("right", f"heat is off on the right leg because of {NUMB}: a numb foot does not feel a burn")]
    assert [n.leg for n in decision.notices if n.code is NoticeCode.LEG_SPARED] == ["left"]
    assert decision.spared_legs == {"left"} and decision.no_heat_legs == {"left", "right"}


def test_both_legs_wounded_refuses_the_program_with_the_reason(library):
    decision = check_profile(library["lymphatic"], 1, Profile(wound_or_infection_left=True,
                                                              wound_or_infection_right=True))
    assert not decision.allowed
    assert decision.reasons == [f"lymphatic is refused: both legs have {WOUND}, and nothing is given on such a leg"]
    assert decision.spared_legs == {"left", "right"}

"""The safety profile: the guide's contraindications refuse deep massage, cap intensity, and a
suspected clot refuses compression."""

import pytest
from pydantic import ValidationError

from programs.library import load_library
from programs.profile import CAPPED_INTENSITY, PREGNANCY_MAX_HEAT_C, Profile, check_profile
from programs.schema import Program

FLAGS = ["varicose_veins", "wound_or_infection", "suspected_clot", "pregnancy"]


@pytest.fixture(scope="module")
def library():
    programs, errors = load_library()
    assert not errors
    return programs


def test_no_flags_allows_everything_as_asked(library):
    for program in library.values():
        decision = check_profile(program, 5, Profile())
        assert decision.allowed and decision.intensity == 5
        assert decision.reasons == [] and decision.max_heat_c is None


@pytest.mark.parametrize("flag", FLAGS)
def test_any_flag_refuses_deep_programs_with_a_reason(library, flag):
    decision = check_profile(library["deep_tissue"], 3, Profile(**{flag: True}))
    assert not decision.allowed
    assert any(r.startswith("deep_tissue is refused: deep massage is not safe with") for r in decision.reasons)


def test_varicose_veins_reason_reads_as_a_sentence(library):
    decision = check_profile(library["deep_tissue"], 1, Profile(varicose_veins=True))
    assert decision.reasons == ["deep_tissue is refused: deep massage is not safe with varicose veins"]


@pytest.mark.parametrize("flag", ["varicose_veins", "wound_or_infection_left", "pregnancy",
                                  "numbness_or_poor_circulation"])
def test_any_flag_caps_intensity_but_allows_gentle_programs(library, flag):
    decision = check_profile(library["quick_circulation"], 5, Profile(**{flag: True}))
    assert decision.allowed
    assert decision.intensity == CAPPED_INTENSITY == 2
    assert any("intensity is capped at 2" in r for r in decision.reasons)


def test_intensity_below_the_cap_is_left_alone(library):
    decision = check_profile(library["lymphatic"], 1, Profile(varicose_veins=True))
    assert decision.allowed and decision.intensity == 1 and decision.reasons == []


@pytest.mark.parametrize("program_id", ["quick_circulation", "lymphatic", "full_leg", "standing_relief"])
def test_suspected_clot_refuses_compression(library, program_id):
    decision = check_profile(library[program_id], 2, Profile(suspected_clot=True))
    assert not decision.allowed
    assert "compression is refused with a suspected blood clot: see a doctor first" in decision.reasons


def test_suspected_clot_allows_a_heat_only_program():
    heat_only = Program.model_validate({
        "id": "warm_pads", "name": "Warm pads", "summary": "Heat only.", "category": "warm_up",
        "phases": [{"name": "warm", "duration_s": 300, "heat_c": {"foot": 38.0, "calf": 38.0}}],
    })
    decision = check_profile(heat_only, 4, Profile(suspected_clot=True))
    assert decision.allowed and decision.intensity == 2


def test_pregnancy_caps_heat(library):
    decision = check_profile(library["warm_up"], 2, Profile(pregnancy=True))
    assert decision.allowed
    assert decision.max_heat_c == PREGNANCY_MAX_HEAT_C == 38.0
    assert any("heat is capped at 38 °C" in r for r in decision.reasons)


def test_every_builtin_except_deep_is_allowed_with_varicose_veins(library):
    for program in library.values():
        decision = check_profile(program, 5, Profile(varicose_veins=True))
        assert decision.allowed == (not program.deep), program.id
        assert decision.intensity == 2


def test_profile_refuses_unknown_flags_and_non_bools():
    with pytest.raises(ValidationError):
        Profile(diabetes=True)
    with pytest.raises(ValidationError):
        Profile(pregnancy="yes")


@pytest.mark.parametrize("bad", [0, 6, True])
def test_check_profile_refuses_an_impossible_intensity(library, bad):
    with pytest.raises(ValueError):
        check_profile(library["warm_up"], bad, Profile())


def test_the_old_person_level_wound_flag_means_both_legs_and_nothing_can_be_given(library):
    """A wound on both legs: every output of both legs would be cut, so the program is refused."""
    profile = Profile(wound_or_infection=True)
    assert profile.wound_or_infection_left and profile.wound_or_infection_right
    decision = check_profile(library["quick_circulation"], 2, profile)
    assert not decision.allowed
    assert any("both legs" in r for r in decision.reasons)


def test_unsure_or_recent_surgery_refuses_every_program(library):
    for program in library.values():
        decision = check_profile(program, 1, Profile(unsure_or_recent_surgery=True))
        assert not decision.allowed, program.id
        assert any("ask a doctor first" in r for r in decision.reasons)

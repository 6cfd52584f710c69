"""The profile rules at their edges (programs/profile.py): intensity exactly at the cap, a
program exactly at the pregnancy heat cap, several flags named in one sentence, and the clot
rules for rollers. Explicit examples, so each boundary is checked on every run."""

import pytest

from programs.library import load_library
from programs.profile import Profile, check_profile
from programs.schema import Program


@pytest.fixture(scope="module")
def library():
    programs, errors = load_library()
    assert not errors
    return programs


def heat_only(heat_c: float) -> Program:
    return Program.model_validate({
        "id": "warm_pads", "name": "Warm pads", "summary": "Heat only.", "category": "warm_up",
        "phases": [{"name": "warm", "duration_s": 300, "heat_c": {"foot": heat_c, "calf": heat_c}}],
    })


def test_intensity_at_the_cap_is_left_alone_without_a_note(library):
    decision = check_profile(library["quick_circulation"], 2, Profile(varicose_veins=True))
    assert decision.allowed and decision.intensity == 2 and decision.reasons == []


def test_intensity_above_the_cap_is_capped_with_the_reason(library):
    decision = check_profile(library["quick_circulation"], 3, Profile(varicose_veins=True))
    assert decision.intensity == 2
    assert decision.reasons == ["intensity is capped at 2 (asked for 3) because of varicose veins"]


def test_several_flags_are_named_in_one_sentence(library):
    two = check_profile(library["deep_tissue"], 1, Profile(varicose_veins=True, pregnancy=True))
    assert two.reasons[0] == "deep_tissue is refused: deep massage is not safe with varicose veins or pregnancy"
    three = check_profile(library["deep_tissue"], 1,
                          Profile(varicose_veins=True, wound_or_infection=True, pregnancy=True))
    assert three.reasons[0] == ("deep_tissue is refused: deep massage is not safe with varicose veins, "
                                "a skin infection or an open wound or pregnancy")


def test_a_program_at_the_pregnancy_cap_is_capped_silently():
    decision = check_profile(heat_only(38.0), 2, Profile(pregnancy=True))
    assert decision.allowed and decision.max_heat_c == 38.0 and decision.reasons == []


def test_a_program_above_the_pregnancy_cap_says_so():
    decision = check_profile(heat_only(40.0), 2, Profile(pregnancy=True))
    assert decision.max_heat_c == 38.0
    assert decision.reasons == ["heat is capped at 38 °C (the program asks for 40 °C) during pregnancy"]


def test_no_pregnancy_no_heat_cap():
    for flag in ("varicose_veins", "wound_or_infection", "suspected_clot"):
        assert check_profile(heat_only(40.0), 1, Profile(**{flag: True})).max_heat_c is None


def test_a_suspected_clot_refuses_rollers_and_compression_with_both_reasons(library):
    roller_programs = [p for p in library.values() if p.uses_rollers and not p.deep]
    assert roller_programs
    for program in roller_programs:
        decision = check_profile(program, 1, Profile(suspected_clot=True))
        assert not decision.allowed
        assert "massage rollers are refused with a suspected blood clot: see a doctor first" in decision.reasons
        assert ("compression is refused with a suspected blood clot: see a doctor first" in decision.reasons) \
            == program.uses_compression


@pytest.mark.parametrize("bad", [0, 6, -1, True, 2.0, "3"])
def test_an_impossible_intensity_is_refused_naming_it(library, bad):
    with pytest.raises(ValueError) as err:
        check_profile(library["warm_up"], bad, Profile())
    assert str(err.value) == f"intensity must be one of 1-5, got {bad!r}"


@pytest.mark.parametrize("good", [1, 5])
def test_intensities_1_and_5_are_taken(library, good):
    assert check_profile(library["warm_up"], good, Profile()).intensity == good


def test_flags_set_lists_the_flags_in_order():
    assert Profile(pregnancy=True, varicose_veins=True).flags_set == ["varicose_veins", "pregnancy"]
    assert Profile().flags_set == []

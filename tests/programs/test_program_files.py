"""Bad program files are refused at load with the file, the field and the reason; a bad file
never stops the good ones beside it from loading."""

import json
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from controller.model.limits import SafetyLimits
from programs.intensity import INTENSITIES, scaled_pressure_mmhg
from programs.library import BUILTIN_DIR, load_library, load_program
from programs.schema import CompressionSpec, Program, ProgramError


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


def write(folder: Path, data: dict, stem: str | None = None) -> Path:
    """Write ``data`` as TOML (top-level keys, everything below inline)."""
    path = folder / f"{stem or data['id']}.toml"
    path.write_text("\n".join(f"{k} = {_toml_value(v)}" for k, v in data.items()) + "\n", encoding="utf-8")
    return path


def good(program_id: str = "sample") -> dict:
    return {
        "id": program_id,
        "name": "Sample",
        "summary": "A valid program the tests break one field at a time.",
        "category": "circulation",
        "deep": False,
        "phases": [
            {"name": "warm", "duration_s": 60, "heat_c": {"foot": 39.0, "calf": 39.0}},
            {
                "name": "waves",
                "duration_s": 120,
                "compression": {
                    "pattern": "wave", "legs": "both", "chambers": ["foot", "calf", "thigh"],
                    "pressure_mmhg": {"foot": 60, "calf": 52, "thigh": 45}, "hold_s": 4.0, "rest_s": 6.0,
                },
                "rollers": {"pattern": "glide", "positions": ["foot", "calf"]},
            },
        ],
    }


def comp(d: dict) -> dict:
    return d["phases"][1]["compression"]


def _wrong_order(d):
    comp(d)["chambers"] = ["calf", "foot", "thigh"]


def _inverted(d):
    comp(d)["pressure_mmhg"] = {"foot": 45, "calf": 52, "thigh": 60}


def _step_too_big(d):
    comp(d)["pressure_mmhg"]["calf"] = 40   # 60 -> 40: 20 mmHg


def _step_too_small(d):
    comp(d)["pressure_mmhg"]["thigh"] = 50  # 52 -> 50: 2 mmHg


def _over_limit(d):
    d["deep"] = True
    comp(d)["pressure_mmhg"] = {"foot": 120, "calf": 110, "thigh": 100}


def _lymphatic_over(d):
    d["category"] = "lymphatic"
    d["phases"][1]["rollers"] = {"pattern": "off"}
    comp(d)["pressure_mmhg"] = {"foot": 50, "calf": 44, "thigh": 38}


def _heat_over(d):
    d["phases"][0]["heat_c"]["calf"] = 43.0


def _heat_under(d):
    d["phases"][0]["heat_c"]["foot"] = 3.8


def _hold_too_long(d):
    comp(d)["hold_s"] = 61.0


def _closed_too_long(d):
    comp(d)["hold_s"] = 56.0  # foot closed ≈ 56 + two later fills of 3 s = 62 s


def _session_too_long(d):
    d["phases"][0]["duration_s"] = 1700


def _unknown_key(d):
    comp(d)["speed"] = 3


def _unknown_top_key(d):
    d["author"] = "me"


def _wrong_type(d):
    d["phases"][1]["duration_s"] = "sixty"


def _wrong_type_bool(d):
    d["deep"] = "no"


def _missing_pressure(d):
    del comp(d)["pressure_mmhg"]["calf"]


def _extra_pressure(d):
    comp(d)["chambers"] = ["foot", "calf"]


def _empty_phases(d):
    d["phases"] = []


def _zero_duration(d):
    d["phases"][0]["duration_s"] = 0


def _unknown_pattern(d):
    comp(d)["pattern"] = "squeeze"


def _unknown_chamber(d):
    comp(d)["chambers"] = ["foot", "knee"]


def _unknown_category(d):
    d["category"] = "miracle"


def _deep_pressure_not_marked(d):
    comp(d)["pressure_mmhg"] = {"foot": 100, "calf": 92, "thigh": 84}


def _friction_not_deep(d):
    d["phases"][1]["rollers"]["pattern"] = "friction"


def _no_rest(d):
    comp(d)["rest_s"] = 0.0


# name -> (how to break the file, a field path the message must name, a word from the reason)
BAD = {
    "wrong order": (_wrong_order, "phases[1].compression.chambers", "foot → calf → thigh"),
    "gradient inverted": (_inverted, "phases[1].compression.pressure_mmhg.calf", "inverted"),
    "gradient step too big": (_step_too_big, "phases[1].compression.pressure_mmhg.calf", "too big"),
    "gradient step too small": (_step_too_small, "phases[1].compression.pressure_mmhg.thigh", "too small"),
    "pressure over limit": (_over_limit, "phases[1].compression.pressure_mmhg.foot", "110 mmHg pressure limit"),
    "lymphatic over 45": (_lymphatic_over, "phases[1].compression.pressure_mmhg.foot", "45 mmHg lymphatic limit"),
    "heat over 42": (_heat_over, "phases[0].heat_c.calf", "42 °C heat limit"),
    "heat under 30": (_heat_under, "phases[0].heat_c.foot", "below 30"),
    "hold too long": (_hold_too_long, "phases[1].compression.hold_s", "60 s hold limit"),
    "chamber closed too long": (_closed_too_long, "phases[1].compression.hold_s", "foot chamber stays closed"),
    "session too long": (_session_too_long, "phases", "1800 s session limit"),
    "unknown key": (_unknown_key, "phases[1].compression.speed", "unknown key"),
    "unknown top-level key": (_unknown_top_key, "author", "unknown key"),
    "wrong type": (_wrong_type, "phases[1].duration_s", "number"),
    "wrong type (bool)": (_wrong_type_bool, "deep", "boolean"),
    "missing pressure": (_missing_pressure, "phases[1].compression.pressure_mmhg.calf", "missing"),
    "pressure for an unlisted chamber": (_extra_pressure, "phases[1].compression.pressure_mmhg.thigh",
                                         "not listed"),
    "empty phases": (_empty_phases, "phases", "empty"),
    "zero duration": (_zero_duration, "phases[0].duration_s", "greater than 0"),
    "unknown pattern": (_unknown_pattern, "phases[1].compression.pattern", "wave"),
    "unknown chamber": (_unknown_chamber, "phases[1].compression.chambers[1]", "thigh"),
    "unknown category": (_unknown_category, "category", "lymphatic"),
    "deep pressure without deep = true": (_deep_pressure_not_marked, "phases[1].compression.pressure_mmhg.foot",
                                          "deep = true"),
    "friction without deep = true": (_friction_not_deep, "phases[1].rollers.pattern", "deep = true"),
    "no vented rest": (_no_rest, "phases[1].compression.rest_s", "vent"),
}


def test_the_sample_is_good(tmp_path):
    program = load_program(write(tmp_path, good()), SafetyLimits())
    assert program.id == "sample" and program.duration_s == 180


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_file_is_refused_naming_file_field_and_reason(tmp_path, case):
    breaker, field, reason = BAD[case]
    data = good()
    breaker(data)
    path = write(tmp_path, data)
    with pytest.raises(ProgramError) as err:
        load_program(path, SafetyLimits())
    text = str(err.value)
    assert str(path) in text
    assert f"{field}:" in text, text
    assert reason in text, text
    assert err.value.path == str(path)


def test_id_must_equal_the_file_name(tmp_path):
    path = write(tmp_path, good("sample"), stem="other")
    with pytest.raises(ProgramError) as err:
        load_program(path)
    text = str(err.value)
    assert "other.toml" in text and "id:" in text and "'sample'" in text


def test_bad_id_characters(tmp_path):
    path = write(tmp_path, good("Bad-Id"))
    with pytest.raises(ProgramError) as err:
        load_program(path)
    assert "Bad-Id.toml" in str(err.value) and "id:" in str(err.value)


def test_not_toml_is_refused(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('id = "broken"\nname = [unclosed\n', encoding="utf-8")
    with pytest.raises(ProgramError) as err:
        load_program(path)
    assert "broken.toml" in str(err.value) and "not valid TOML" in str(err.value)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(ProgramError, match="nothere.toml.*not found"):
        load_program(tmp_path / "nothere.toml")


def test_every_problem_in_a_file_is_reported(tmp_path):
    data = good()
    _heat_over(data)
    _wrong_order(data)
    with pytest.raises(ProgramError) as err:
        load_program(write(tmp_path, data))
    fields = [f for f, _ in err.value.problems]
    assert "phases[0].heat_c.calf" in fields and "phases[1].compression.chambers" in fields


def test_a_bad_file_beside_good_ones_does_not_stop_them(tmp_path):
    write(tmp_path, good("alpha"))
    write(tmp_path, good("gamma"))
    bad = good("beta")
    _inverted(bad)
    write(tmp_path, bad)
    (tmp_path / "zzz.toml").write_text("this is not toml = = =", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    programs, errors = load_library([tmp_path], SafetyLimits())
    assert set(programs) == {"alpha", "gamma"}
    texts = sorted(str(e) for e in errors)
    assert len(texts) == 2
    assert "beta.toml" in texts[0] and "pressure_mmhg.calf" in texts[0]
    assert "zzz.toml" in texts[1]


def test_user_programs_load_beside_the_builtins(tmp_path):
    write(tmp_path, good("my_evening"))
    programs, errors = load_library([BUILTIN_DIR, tmp_path])
    assert errors == []
    assert "my_evening" in programs and "quick_circulation" in programs


def test_a_duplicate_id_across_folders_names_both_files(tmp_path):
    write(tmp_path, good("warm_up"))
    programs, errors = load_library([BUILTIN_DIR, tmp_path])
    assert programs["warm_up"].name == "Warm-up"  # the first folder wins
    assert len(errors) == 1
    text = str(errors[0])
    assert str(tmp_path / "warm_up.toml") in text and str(BUILTIN_DIR / "warm_up.toml") in text


def test_a_missing_folder_is_reported_not_raised(tmp_path):
    programs, errors = load_library([tmp_path / "nope", BUILTIN_DIR])
    assert "full_leg" in programs
    assert len(errors) == 1 and "nope" in str(errors[0])


def test_stricter_limits_apply_to_user_files(tmp_path):
    path = write(tmp_path, good())
    with pytest.raises(ProgramError, match=r"pressure_mmhg\.foot: 60 mmHg is above the 55 mmHg"):
        load_program(path, SafetyLimits(max_pressure_mmhg=55))
    with pytest.raises(ProgramError, match=r"heat_c\.foot: 39 °C is above the 38 °C"):
        load_program(path, SafetyLimits(max_heat_target_c=38))
    with pytest.raises(ProgramError, match=r"phases: .*120 s session limit"):
        load_program(path, SafetyLimits(max_session_s=120))


def test_a_program_built_in_code_obeys_the_same_rules():
    data = good()
    _wrong_order(data)
    with pytest.raises(ValidationError, match="foot → calf → thigh"):
        Program.model_validate(data)
    with pytest.raises(ValidationError, match="inverted"):
        CompressionSpec(pattern="wave", chambers=["foot", "calf"], pressure_mmhg={"foot": 40, "calf": 50},
                        hold_s=2, rest_s=4)


def test_chambers_must_start_at_the_foot_without_gaps(tmp_path):
    """foot >= calf >= thigh must hold in the sleeve: no chamber squeezed over an empty distal one."""
    data = good()
    comp(data)["chambers"] = ["foot", "thigh"]
    comp(data)["pressure_mmhg"] = {"foot": 60, "thigh": 50}
    with pytest.raises(ProgramError, match=r"phases\[1\]\.compression\.chambers: must start at the foot with no gaps"):
        load_program(write(tmp_path, data))
    data = good()
    data["phases"][1]["compression"] = {"pattern": "pulse", "chambers": ["calf"], "pressure_mmhg": {"calf": 70},
                                        "hold_s": 2, "rest_s": 2}
    with pytest.raises(ProgramError, match="empty foot chamber"):
        load_program(write(tmp_path, data))
    data = good()
    data["phases"][1]["compression"] = {"pattern": "pulse", "chambers": ["foot"], "pressure_mmhg": {"foot": 70},
                                        "hold_s": 2, "rest_s": 2}
    assert load_program(write(tmp_path, data)).phases[1].compression.legs == "both"
    data = good()
    data["phases"][1]["compression"] = {"pattern": "off"}
    data["phases"][1]["rollers"] = {"pattern": "off"}
    program = load_program(write(tmp_path, data))
    assert not program.uses_compression and not program.uses_rollers


def test_off_patterns_take_no_chambers_or_positions(tmp_path):
    data = good()
    comp(data)["pattern"] = "off"
    with pytest.raises(ProgramError, match=r"phases\[1\]\.compression\.chambers: pattern 'off'"):
        load_program(write(tmp_path, data))
    data = good()
    data["phases"][1]["rollers"]["pattern"] = "off"
    with pytest.raises(ProgramError, match=r"phases\[1\]\.rollers\.positions: pattern 'off'"):
        load_program(write(tmp_path, data))


steps = st.integers(min_value=5, max_value=10)


@settings(max_examples=60, deadline=None)
@given(foot=st.integers(min_value=30, max_value=80), s1=steps, s2=steps)
def test_any_gradient_of_5_to_10_mmhg_steps_loads_and_keeps_its_order(foot, s1, s2):
    pressures = {"foot": foot, "calf": foot - s1, "thigh": foot - s1 - s2}
    spec = CompressionSpec(pattern="wave", chambers=["foot", "calf", "thigh"], pressure_mmhg=pressures,
                           hold_s=3, rest_s=5)
    for i in INTENSITIES:
        p = scaled_pressure_mmhg(spec.pressure_mmhg, i)
        assert p["foot"] > p["calf"] > p["thigh"] > 0


@settings(max_examples=60, deadline=None)
@given(foot=st.integers(min_value=40, max_value=100), step=st.integers(min_value=-20, max_value=30))
# the bounds and their neighbours on every run, whatever Hypothesis draws (a 4 mmHg step was
# found in only 11 of 20 random runs)
@example(foot=60, step=4)
@example(foot=60, step=5)
@example(foot=60, step=10)
@example(foot=60, step=11)
@example(foot=60, step=0)
@example(foot=60, step=-5)
def test_a_step_outside_5_to_10_mmhg_never_loads(foot, step):
    pressures = {"foot": foot, "calf": foot - step}
    ok = 5 <= step <= 10
    try:
        CompressionSpec(pattern="wave", chambers=["foot", "calf"], pressure_mmhg=pressures, hold_s=3, rest_s=5)
        loaded = True
    except ValidationError:
        loaded = False
    assert loaded == ok


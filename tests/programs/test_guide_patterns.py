"""The patterns the guide's steps need (strokes, anchor, press) are checked at load like any
other rule: a file that misuses one is refused with the field and the reason."""

import pytest
from pydantic import ValidationError

from programs.library import load_library
from programs.schema import CompressionSpec

WAVE = {"pattern": "wave", "chambers": ["foot", "calf", "thigh"],
        "pressure_mmhg": {"foot": 60, "calf": 52, "thigh": 45}, "hold_s": 3.0, "rest_s": 4.0}
ANCHOR = {**WAVE, "pattern": "anchor", "hold_s": 10.0, "squeezes": 2, "squeeze_rest_s": 2.0}
PRESS = {"pattern": "press", "chambers": ["foot", "calf"], "pressure_mmhg": {"foot": 66, "calf": 60},
         "hold_s": 0.0, "rest_s": 5.0}


def refused(data: dict) -> str:
    with pytest.raises(ValidationError) as err:
        CompressionSpec.model_validate(data)
    return str(err.value)


def test_the_guide_patterns_load():
    assert CompressionSpec.model_validate({**WAVE, "strokes": 10}).strokes == 10
    assert CompressionSpec.model_validate(ANCHOR).squeezes == 2
    assert CompressionSpec.model_validate(PRESS).pattern == "press"


@pytest.mark.parametrize("data, field, words", [
    ({**WAVE, "pattern": "pulse", "strokes": 3}, "strokes", "makes none"),
    ({**WAVE, "strokes": 0}, "strokes", "greater than or equal to 1"),
    ({**PRESS, "hold_s": 10.0}, "hold_s", "hold_s must be 0"),
    ({**ANCHOR, "chambers": ["foot"], "pressure_mmhg": {"foot": 60}}, "chambers", "at least two"),
    ({**ANCHOR, "squeezes": 0}, "squeezes", "at least once"),
    ({**ANCHOR, "squeeze_rest_s": 1.0}, "squeeze_rest_s", "too short"),
    ({**ANCHOR, "squeezes": 3, "hold_s": 20.0}, "hold_s", "hold limit"),  # the anchor would stay closed ~70 s
    ({**WAVE, "squeezes": 2}, "squeezes", "belong to pattern 'anchor'"),
    ({**ANCHOR, "pressure_mmhg": {"foot": 52, "calf": 60, "thigh": 45}}, "pressure_mmhg.calf", "inverted"),
])
def test_a_misused_guide_pattern_is_refused(data, field, words):
    text = refused(data)
    assert field in text and words in text, text


def test_every_builtin_wave_phase_states_its_strokes():
    programs, errors = load_library()
    assert errors == []
    for program in programs.values():
        for phase in program.phases:
            if phase.compression is not None and phase.compression.pattern == "wave":
                assert phase.compression.strokes is not None, (program.id, phase.name)


def test_the_guide_steps_use_their_patterns():
    programs, _ = load_library()
    thighs = next(p for p in programs["full_leg"].phases if p.name == "thighs")
    assert thighs.compression.pattern == "anchor" and thighs.compression.chambers[-1] == "thigh"
    press = next(p for p in programs["calf_focus"].phases if p.name == "press and hold")
    assert press.compression.pattern == "press"
    lymph = programs["lymphatic"]
    assert not any(p.heat_c or p.has_rollers for p in lymph.phases)
    assert all(p.compression.pattern == "wave" and p.compression.rest_s >= 15.0 for p in lymph.phases)
    assert "clear the thigh" not in lymph.summary and "No heat and no rollers" in lymph.summary
    quick = programs["quick_circulation"].phases[0].compression
    assert quick.strokes == 10 and "ten light upward strokes per leg" in programs["quick_circulation"].summary

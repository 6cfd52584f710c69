"""The guide's steps a machine cannot do (toe pulls, a light leg stretch) are prompt steps: the
person is told what to do while the sleeves stay vented and the rollers still. A prompt step
that would squeeze or rub a moving leg, or leave the person waiting, never loads."""

from __future__ import annotations

import pytest

from controller.model.limits import SafetyLimits
from programs.library import load_library, load_program
from programs.schema import PROMPT_MAX_S, PROMPT_MIN_S, ProgramError
from tests.programs.test_program_files import good, write

PROMPT = {"action": "toe_pulls", "text": "Your turn: gently pull each toe toward you and hold"}
WAVE = {"pattern": "wave", "chambers": ["foot", "calf"], "pressure_mmhg": {"foot": 40, "calf": 34},
        "hold_s": 2.0, "rest_s": 4.0, "strokes": 2}


def with_prompt_phase(**phase) -> dict:
    data = good()
    data["phases"].append({"name": "toe pulls", "duration_s": 30.0, "prompt": PROMPT, **phase})
    return data


def test_a_prompt_step_loads_with_heat(tmp_path):
    program = load_program(write(tmp_path, with_prompt_phase(heat_c={"foot": 40.0})), SafetyLimits())
    step = program.phases[-1]
    assert step.prompt.action == "toe_pulls" and not step.has_compression and not step.has_rollers
    assert step.heat_c == {"foot": 40.0}


@pytest.mark.parametrize("phase, field, words", [
    ({"compression": WAVE}, "phases[2].compression", "sleeves stay vented"),
    ({"rollers": {"pattern": "glide", "positions": ["calf"]}}, "phases[2].rollers", "rollers stay still"),
    ({"duration_s": PROMPT_MIN_S - 1}, "phases[2].duration_s", "a prompt step lasts"),
    ({"duration_s": PROMPT_MAX_S + 1}, "phases[2].duration_s", "a prompt step lasts"),
    ({"prompt": {**PROMPT, "text": ""}}, "phases[2].prompt.text", "at least 1 character"),
    ({"prompt": {**PROMPT, "text": "x" * 201}}, "phases[2].prompt.text", "200"),
    ({"prompt": {**PROMPT, "action": "handstand"}}, "phases[2].prompt.action", "toe_pulls"),
    ({"prompt": {**PROMPT, "hold_s": 5}}, "phases[2].prompt.hold_s", "unknown key"),
])
def test_a_bad_prompt_step_is_refused_naming_field_and_reason(tmp_path, phase, field, words):
    path = write(tmp_path, with_prompt_phase(**phase))
    with pytest.raises(ProgramError) as err:
        load_program(path, SafetyLimits())
    text = str(err.value)
    assert f"{field}:" in text and words in text, text


def test_the_bounds_themselves_load(tmp_path):
    for seconds in (PROMPT_MIN_S, PROMPT_MAX_S):
        assert load_program(write(tmp_path, with_prompt_phase(duration_s=seconds)), SafetyLimits())


def test_vented_compression_and_still_rollers_are_allowed_in_a_prompt_step(tmp_path):
    data = with_prompt_phase(compression={"pattern": "off"}, rollers={"pattern": "off"})
    assert load_program(write(tmp_path, data), SafetyLimits()).phases[-1].prompt is not None


def test_the_builtins_have_the_guides_prompts_where_the_guide_has_them():
    programs, errors = load_library()
    assert errors == []
    names = {pid: [p.name for p in prog.phases] for pid, prog in programs.items()}
    # step 4 (feet): "gently pull on each toe", after the soles, arches and heels
    assert names["full_leg"].index("toe pulls") == names["full_leg"].index("feet") + 1
    assert names["foot_focus"].index("toe pulls") == names["foot_focus"].index("arches and heels") + 1
    # step 5/6 (relaxation): "finish with a light stretch", after the long strokes
    assert names["full_leg"].index("leg stretch") == names["full_leg"].index("relaxation") + 1
    assert names["recovery"][-1] == "leg stretch"
    for pid, prog in programs.items():
        for phase in prog.phases:
            if phase.prompt is not None:
                assert "your turn" in phase.prompt.text.lower(), (pid, phase.name)
                words = "pull each toe" if phase.prompt.action == "toe_pulls" else "gently pull it toward your body"
                assert words in phase.prompt.text, (pid, phase.name)
    # the 20-minute therapy stays 20 minutes
    assert programs["full_leg"].duration_s == 1200.0

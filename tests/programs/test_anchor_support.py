"""An anchor's support pressures (the thigh step's foot and calf easing while the thigh works)
are checked at load like every other rule: one for each chamber below the squeezing one, each
below that chamber's own pressure, graded 5-10 mmHg toward the thigh (foot ≥ calf ≥ thigh)."""

import pytest
from pydantic import ValidationError

from controller.model.limits import SafetyLimits
from programs.schema import CompressionSpec

ANCHOR = {"pattern": "anchor", "chambers": ["foot", "calf", "thigh"],
          "pressure_mmhg": {"foot": 65, "calf": 55, "thigh": 45}, "hold_s": 15.0, "rest_s": 3.0,
          "squeezes": 2, "squeeze_rest_s": 2.0, "support_mmhg": {"foot": 55, "calf": 50}}


def refused(data: dict) -> str:
    with pytest.raises(ValidationError) as err:
        CompressionSpec.model_validate(data, context={"limits": SafetyLimits()})
    return str(err.value)


def test_the_full_leg_anchor_loads():
    assert CompressionSpec.model_validate(ANCHOR).support_mmhg == {"foot": 55.0, "calf": 50.0}


def test_the_gradient_bounds_themselves_load():
    # steps of exactly 10 and exactly 5 mmHg
    assert CompressionSpec.model_validate({**ANCHOR, "support_mmhg": {"foot": 60, "calf": 50}})
    assert CompressionSpec.model_validate({**ANCHOR, "support_mmhg": {"foot": 55, "calf": 50}})


@pytest.mark.parametrize("support, field, words", [
    ({"foot": 55}, "support_mmhg", "each chamber below the squeezing one"),
    ({"foot": 55, "calf": 50, "thigh": 40}, "support_mmhg", "and only for them"),
    ({"foot": 65, "calf": 50}, "support_mmhg.foot", "never rises"),  # not below its own 65
    ({"foot": 60, "calf": 56}, "support_mmhg.calf", "never rises"),
    ({"foot": 55, "calf": 49}, "pressure_mmhg.thigh", "5-10 mmHg below the calf's support"),  # a 4 mmHg step
    ({"foot": 53, "calf": 50}, "support_mmhg.calf", "5-10 mmHg below the foot's support"),  # a 3 mmHg step
    ({"foot": 64, "calf": 50}, "support_mmhg.calf", "step 14"),
])
def test_a_bad_support_is_refused(support, field, words):
    text = refused({**ANCHOR, "support_mmhg": support})
    assert field in text and words in text, text


def test_supports_belong_to_the_anchor_only():
    wave = {k: v for k, v in ANCHOR.items() if k not in ("squeezes", "squeeze_rest_s")}
    text = refused({**wave, "pattern": "wave"})
    assert "support_mmhg" in text and "belong to pattern 'anchor'" in text
    assert "list no chambers" in refused({"pattern": "off", "rest_s": 3.0, "support_mmhg": {"foot": 50}})


def test_stricter_gradient_limits_apply_to_supports():
    strict = SafetyLimits(gradient_step_min_mmhg=6.0)
    with pytest.raises(ValidationError) as err:
        CompressionSpec.model_validate(ANCHOR, context={"limits": strict})
    assert "support" in str(err.value)

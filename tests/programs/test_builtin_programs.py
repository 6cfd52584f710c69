"""The built-in library: every program loads under the default limits and does what it says."""

import pytest

from controller.model.config import CHAMBER_ORDER
from controller.model.limits import SafetyLimits
from programs.intensity import INTENSITIES, pressure_factor, scaled_pressure_mmhg
from programs.library import BUILTIN_DIR, describe, load_library, load_program

BUILTIN_IDS = {
    "quick_circulation", "warm_up", "full_leg", "calf_focus", "foot_focus",
    "lymphatic", "deep_tissue", "recovery", "standing_relief",
}


@pytest.fixture(scope="module")
def library():
    programs, errors = load_library()
    assert errors == [], "\n".join(map(str, errors))
    return programs


def test_every_builtin_loads_with_the_default_limits(library):
    assert set(library) == BUILTIN_IDS
    assert {p.stem for p in BUILTIN_DIR.glob("*.toml")} == BUILTIN_IDS


@pytest.mark.parametrize("program_id", sorted(BUILTIN_IDS))
def test_each_file_loads_on_its_own_with_its_own_id(program_id):
    program = load_program(BUILTIN_DIR / f"{program_id}.toml", SafetyLimits())
    assert program.id == program_id
    assert program.summary and program.name


def test_every_session_fits_the_30_minute_limit(library):
    for program in library.values():
        assert 0 < program.duration_s <= 30 * 60, program.id


def test_quick_circulation_is_the_three_minute_routine(library):
    quick = library["quick_circulation"]
    assert quick.duration_s == 180
    strokes, calves, arches, ankles = quick.phases
    # ten light strokes need ~90 s of the pump on both legs: the strokes get 100 s of the three minutes
    assert strokes.compression.pattern == "wave" and strokes.duration_s == 100 and strokes.compression.strokes == 10
    assert calves.compression.pattern == "pulse" and calves.compression.chambers == ["foot", "calf"]
    assert calves.rollers.pattern == "knead" and calves.duration_s == 60
    assert arches.rollers.positions == ["foot"]
    assert ankles.compression.pattern == "hold" and ankles.compression.chambers == ["foot"]


def test_full_leg_is_about_twenty_minutes_and_ends_with_everything_off(library):
    full = library["full_leg"]
    assert 18 * 60 <= full.duration_s <= 22 * 60
    relax, stretch, rest = full.phases[-3:]
    assert relax.name == "relaxation" and relax.compression.pattern == "wave" and not relax.heat_c
    # the guide's "finish with a light stretch": the person's turn, the sleeves and rollers still
    assert stretch.prompt.action == "leg_stretch" and not stretch.has_compression and not stretch.has_rollers
    assert not rest.has_compression and not rest.has_rollers and not rest.heat_c and rest.prompt is None


def test_lymphatic_is_gentle_slow_and_without_heat(library):
    lymph = library["lymphatic"]
    assert lymph.category == "lymphatic" and not lymph.deep
    for phase in lymph.phases:
        assert not phase.heat_c
        assert not phase.has_rollers or phase.rollers.pattern == "glide"
        assert max(phase.compression.pressure_mmhg.values()) <= 40
        assert phase.compression.rest_s >= 15


def test_deep_tissue_is_strong_deep_and_uses_friction(library):
    deep = library["deep_tissue"]
    assert deep.deep and deep.category == "deep"
    top = max(p for ph in deep.phases if ph.compression for p in ph.compression.pressure_mmhg.values())
    assert 100 <= top <= 110
    assert any(ph.rollers and ph.rollers.pattern == "friction" for ph in deep.phases)


def test_only_deep_tissue_is_deep(library):
    assert [p.id for p in library.values() if p.deep] == ["deep_tissue"]


def test_stricter_pressure_limit_refuses_deep_tissue_but_not_the_others():
    programs, errors = load_library(None, SafetyLimits(max_pressure_mmhg=80))
    assert "deep_tissue" not in programs
    assert set(programs) == BUILTIN_IDS - {"deep_tissue"}
    assert len(errors) == 1
    text = str(errors[0])
    assert "deep_tissue.toml" in text and "pressure_mmhg" in text and "80 mmHg" in text


@pytest.mark.parametrize("intensity", INTENSITIES)
def test_every_intensity_keeps_foot_above_calf_above_thigh(library, intensity):
    for program in library.values():
        for phase in program.phases:
            if not phase.has_compression:
                continue
            spec = phase.compression
            scaled = scaled_pressure_mmhg(spec.pressure_mmhg, intensity)
            ordered = [scaled[c] for c in CHAMBER_ORDER if c in spec.chambers]
            assert all(a > b for a, b in zip(ordered, ordered[1:])), (program.id, phase.name, scaled)
            for c, p in spec.pressure_mmhg.items():
                assert scaled[c] == pytest.approx(p * pressure_factor(intensity))
                assert scaled[c] <= p


def test_describe_gives_the_public_fields(library):
    d = describe(library["quick_circulation"])
    assert d == {
        "id": "quick_circulation",
        "name": library["quick_circulation"].name,
        "duration_s": 180,
        "summary": library["quick_circulation"].summary,
        "for_whom": library["quick_circulation"].for_whom,
        "category": "circulation",
        "deep": False,
    }

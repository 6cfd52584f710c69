"""Intensity scales pressure proportionally and roller speed within each stroke's band."""

import pytest

from programs.intensity import INTENSITIES, pressure_factor, roller_period_s, roller_speed, scaled_pressure_mmhg


def test_pressure_factor_table():
    assert [pressure_factor(i) for i in INTENSITIES] == [0.6, 0.7, 0.8, 0.9, 1.0]


def test_intensity_five_is_the_program_as_written():
    assert scaled_pressure_mmhg({"foot": 60, "calf": 52, "thigh": 45}, 5) == {"foot": 60, "calf": 52, "thigh": 45}


@pytest.mark.parametrize("bad", [0, 6, -1, True, 2.5])
def test_out_of_range_intensity_is_refused(bad):
    with pytest.raises(ValueError):
        pressure_factor(bad)
    with pytest.raises(ValueError):
        roller_speed("knead", bad)


@pytest.mark.parametrize("pattern,low,high", [("glide", 0.25, 0.45), ("knead", 0.35, 0.65), ("friction", 0.6, 0.95)])
def test_roller_speed_rises_with_intensity_within_its_band(pattern, low, high):
    speeds = [roller_speed(pattern, i) for i in INTENSITIES]
    assert speeds == sorted(speeds) and speeds[0] < speeds[-1]
    assert speeds[0] == pytest.approx(low) and speeds[-1] == pytest.approx(high)
    assert all(0.0 <= s <= 1.0 for s in speeds)


def test_glide_is_slower_than_knead_is_slower_than_friction_at_each_intensity():
    for i in INTENSITIES:
        assert roller_speed("glide", i) < roller_speed("knead", i) < roller_speed("friction", i)
        assert roller_speed("off", i) == 0.0


def test_roller_periods():
    assert roller_period_s("glide") is None
    assert roller_period_s("off") is None
    assert roller_period_s("knead") == pytest.approx(2.0)
    assert roller_period_s("friction") == pytest.approx(0.4)
    with pytest.raises(ValueError):
        roller_period_s("percussion")
    with pytest.raises(ValueError):
        roller_speed("percussion", 3)

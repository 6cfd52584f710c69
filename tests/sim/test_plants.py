"""The named plants (sim/plants/*.toml): units across the variation envelope, and the
pressure-sensor lag they need."""

from __future__ import annotations

import math

import pytest

from sim.params import ENVELOPE, SimParams, load_sim_params, outside_envelope, shipped_plants, variation_of
from sim.sensors import PressureLag

PLANTS = shipped_plants()


def test_plants_are_shipped():
    assert {"heavy_pad", "tired_pump", "corner_slow_cold", "corner_fast_hot", "mid_envelope"} <= set(PLANTS)


@pytest.mark.parametrize("name", sorted(PLANTS))
def test_every_shipped_plant_loads_and_lies_inside_the_envelope(name):
    params = load_sim_params(PLANTS[name])
    assert outside_envelope(params) == []


def test_the_plants_reach_every_end_of_the_envelope():
    """Both ends of every range, and the top of every 'up to': the corners are really shipped."""
    found = [variation_of(load_sim_params(path)) for path in PLANTS.values()]
    for name, (low, high) in ENVELOPE.items():
        values = [getattr(v, name) for v in found]
        assert max(values) == pytest.approx(high), name
        if name not in ("temp_sensor_lag",):  # "up to 4x": a sensor faster than the default is no corner
            assert min(values) == pytest.approx(low), name


def test_a_plant_outside_the_envelope_is_named():
    base = SimParams()
    weak = base.model_copy(update={"pads": base.pads.model_copy(update={"heater_power_w": 10.0})})
    assert outside_envelope(weak) == ["heater_power 0.5 outside 0.7–1.3"]


def test_a_bad_plant_file_names_the_file_the_field_and_the_reason(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[pressure_sensor]\nlag_s = -0.1\n")
    with pytest.raises(ValueError) as err:
        load_sim_params(bad)
    assert str(bad) in str(err.value) and "pressure_sensor.lag_s" in str(err.value)
    assert "greater than or equal to 0" in str(err.value)


def test_the_pressure_sensor_sees_a_step_through_its_lag():
    live = {"c": 0.0}
    lag = PressureLag(0.3, live, ["c"])
    live["c"] = 100.0
    for _ in range(15):  # 0.3 s in 20 ms steps
        lag.follow(0.02)
    assert lag.seen_mmhg["c"] == pytest.approx(100.0 * (1.0 - math.exp(-1.0)), rel=1e-9)
    assert live["c"] == 100.0  # the chamber itself is not slowed


def test_without_a_lag_the_sensor_sees_the_chamber_itself():
    live = {"c": 0.0}
    lag = PressureLag(0.0, live, ["c"])
    live["c"] = 42.0
    lag.follow(0.02)
    assert lag.seen_mmhg["c"] == 42.0

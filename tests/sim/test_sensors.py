"""Forward sensor models from their circuits, and the params file they (and the plant) read."""

import math
from pathlib import Path

import pytest

from sim.params import (
    DEFAULT_PARAMS_PATH,
    ChamberParams,
    PressureSensorParams,
    SimParams,
    ThermistorParams,
    load_sim_params,
)
from sim.sensors import pressure_volts, thermistor_ohm, thermistor_volts


# -- thermistor divider --------------------------------------------------------------------


def test_thermistor_reads_half_supply_at_25_c_with_an_equal_series_resistor():
    params = ThermistorParams()
    assert thermistor_ohm(25.0, params) == pytest.approx(params.r25_ohm)
    assert thermistor_volts(25.0, params) == pytest.approx(params.supply_v / 2)


def test_thermistor_follows_the_beta_model():
    params = ThermistorParams()
    # Beta model by hand at 50 °C: R = 10 k · exp(3950 · (1/323.15 − 1/298.15)) ≈ 3.588 kΩ.
    r50 = 10000.0 * math.exp(3950.0 * (1 / 323.15 - 1 / 298.15))
    assert thermistor_ohm(50.0, params) == pytest.approx(r50)
    assert r50 == pytest.approx(3588, abs=5)
    assert thermistor_volts(50.0, params) == pytest.approx(3.3 * r50 / (r50 + 10000.0))


def test_thermistor_voltage_falls_as_the_pad_warms():
    params = ThermistorParams()
    volts = [thermistor_volts(t, params) for t in range(0, 86, 5)]
    assert all(a > b for a, b in zip(volts, volts[1:]))
    assert 0.0 < volts[-1] < volts[0] < params.supply_v


# -- pressure sensor ---------------------------------------------------------------------------


def test_pressure_sensor_is_ratiometric_10_to_90_percent():
    params = PressureSensorParams()
    assert pressure_volts(0.0, params) == pytest.approx(0.33)
    assert pressure_volts(150.0, params) == pytest.approx(1.65)
    assert pressure_volts(300.0, params) == pytest.approx(2.97)


def test_pressure_sensor_output_saturates_at_the_rails():
    params = PressureSensorParams()
    assert pressure_volts(-1000.0, params) == 0.0
    assert pressure_volts(1000.0, params) == pytest.approx(params.supply_v)
    assert pressure_volts(-10.0, params) < pressure_volts(0.0, params)  # slight vacuum reads low


# -- params file ------------------------------------------------------------------------------


def test_the_shipped_params_file_writes_out_every_default():
    assert load_sim_params() == SimParams()
    assert load_sim_params(DEFAULT_PARAMS_PATH) == SimParams()


def test_chamber_defaults_differ_by_position():
    chambers = SimParams().chambers
    assert set(chambers) == {"foot", "calf", "thigh"}
    assert [chambers[p].volume_l for p in ("foot", "calf", "thigh")] == [0.6, 1.2, 1.8]
    assert chambers["calf"] == ChamberParams.for_position("calf")
    with pytest.raises(ValueError, match="knee"):
        ChamberParams.for_position("knee")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bench.toml"
    path.write_text(text)
    return path


def test_a_partial_chamber_table_keeps_that_positions_other_defaults(tmp_path):
    params = load_sim_params(write(tmp_path, "[chambers.thigh]\nvolume_l = 2.0\n"))
    assert params.chambers["thigh"].volume_l == 2.0
    assert params.chambers["thigh"].leak_conductance == ChamberParams.for_position(
        "thigh").leak_conductance
    assert params.chambers["foot"] == ChamberParams.for_position("foot")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[pads]\nheater_pwr_w = 3.0\n", "pads.heater_pwr_w"),
        ("[pump]\nmax_pressure_mmhg = -5.0\n", "pump.max_pressure_mmhg"),
        ("[chambers.knee]\nvolume_l = 1.0\n", "chambers"),
        ("[motor]\nstall_current_a = 0.1\n", "motor"),
    ],
)
def test_a_bad_params_file_is_refused_naming_the_file_and_field(tmp_path, text, field):
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as caught:
        load_sim_params(path)
    assert str(path) in str(caught.value)
    assert field in str(caught.value)


def test_a_missing_or_malformed_params_file_is_refused_naming_the_file(tmp_path):
    missing = tmp_path / "nope.toml"
    with pytest.raises(ValueError, match="nope.toml"):
        load_sim_params(missing)
    broken = write(tmp_path, "pads = [\n")
    with pytest.raises(ValueError, match="bench.toml"):
        load_sim_params(broken)

"""Thermistor and pressure sensor transfer functions: known points, rails, calibration."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.pressure_sensor import AnalogPressureSensor
from drivers.thermistor import BetaThermistor, SteinhartHartThermistor

DETERMINISTIC = settings(derandomize=True, database=None, max_examples=200, deadline=None)

# A common 10 kΩ NTC (Vishay NTCLE100E3103, B25/85 = 3977) fitted to Steinhart-Hart.
SH_A, SH_B, SH_C = 1.129148e-3, 2.34125e-4, 8.76741e-8


def divider_volts(r_ohm, series_ohm=10_000.0, supply_v=3.3):
    return supply_v * r_ohm / (r_ohm + series_ohm)


def beta_resistance(t_c, r25=10_000.0, beta=3950.0):
    t_k = t_c + 273.15
    return r25 * math.exp(beta * (1 / t_k - 1 / 298.15))


def test_beta_reads_25c_when_the_thermistor_is_r25():
    assert BetaThermistor().volts_to_c(1.65) == pytest.approx(25.0, abs=1e-9)
    assert BetaThermistor(r25_ohm=100_000, series_ohm=100_000, supply_v=5.0).volts_to_c(
        2.5
    ) == pytest.approx(25.0, abs=1e-9)


@pytest.mark.parametrize(
    "r_ohm, t_c",
    [
        # R = R25·exp(B·(1/T − 1/298.15)) for B = 3950, worked by hand
        (33_620.6, 0.0),
        (6_505.5, 35.0),
        (4_348.1, 45.0),  # the over-temperature trip point
        (1_086.7, 85.0),  # the top of the plausible range
    ],
)
def test_beta_known_points(r_ohm, t_c):
    assert BetaThermistor().volts_to_c(divider_volts(r_ohm)) == pytest.approx(t_c, abs=0.01)


@DETERMINISTIC
@given(t=st.floats(min_value=-20.0, max_value=120.0))
def test_beta_inverts_the_divider(t):
    therm = BetaThermistor()
    v = divider_volts(beta_resistance(t))
    assert therm.volts_to_c(v) == pytest.approx(t, abs=1e-6)
    assert therm.resistance_from_volts(v) == pytest.approx(beta_resistance(t), rel=1e-9)


def test_hotter_pad_reads_lower_volts():
    therm = BetaThermistor()
    temps = [therm.volts_to_c(v / 100) for v in range(1, 330)]
    assert all(a > b for a, b in zip(temps, temps[1:]))


@pytest.mark.parametrize(
    "therm",
    [BetaThermistor(), SteinhartHartThermistor(SH_A, SH_B, SH_C)],
    ids=["beta", "steinhart-hart"],
)
def test_open_and_shorted_thermistors_are_infinities_not_exceptions(therm):
    assert therm.volts_to_c(3.3) == -math.inf  # open: the pull-up wins
    assert therm.volts_to_c(3.5) == -math.inf
    assert therm.volts_to_c(0.0) == math.inf  # short to GND
    assert therm.volts_to_c(-0.01) == math.inf
    assert therm.volts_to_c(1e-300) == math.inf  # beyond the model: still a short
    assert therm.resistance_from_volts(3.3) == math.inf
    assert therm.resistance_from_volts(0.0) == 0.0


def test_steinhart_hart_known_point():
    # The coefficients above give 25.0 °C at 10 kΩ to within 0.1 °C.
    therm = SteinhartHartThermistor(SH_A, SH_B, SH_C)
    assert therm.volts_to_c(1.65) == pytest.approx(25.0, abs=0.1)


def test_calibration_offset_is_added():
    assert BetaThermistor(offset_c=-0.7).volts_to_c(1.65) == pytest.approx(24.3)
    assert SteinhartHartThermistor(SH_A, SH_B, SH_C, offset_c=1.0).volts_to_c(
        1.65
    ) == pytest.approx(SteinhartHartThermistor(SH_A, SH_B, SH_C).volts_to_c(1.65) + 1.0)


def test_bad_thermistor_parameters_are_refused():
    with pytest.raises(ValueError):
        BetaThermistor(beta=0)
    with pytest.raises(ValueError):
        SteinhartHartThermistor(SH_A, SH_B, SH_C, series_ohm=0)


@pytest.mark.parametrize(
    "v, mmhg",
    [
        (0.33, 0.0),  # 10 % of supply: zero
        (2.97, 300.0),  # 90 %: full range
        (1.65, 150.0),
        (0.33 + 2.64 * 110 / 300, 110.0),  # the deep-program limit
    ],
)
def test_pressure_transfer_function(v, mmhg):
    assert AnalogPressureSensor().volts_to_mmhg(v) == pytest.approx(mmhg)


def test_a_dead_pressure_sensor_reads_impossibly_low_not_zero():
    assert AnalogPressureSensor().volts_to_mmhg(0.0) == pytest.approx(-37.5)
    assert AnalogPressureSensor().volts_to_mmhg(3.3) == pytest.approx(337.5)


def test_pressure_zero_calibration():
    raw = AnalogPressureSensor()
    at_rest_v = 0.35  # the sensor reads a little high with the chamber open to air
    offset = raw.volts_to_mmhg(at_rest_v)
    calibrated = raw.with_offset(offset)
    assert calibrated.volts_to_mmhg(at_rest_v) == pytest.approx(0.0)
    assert calibrated.with_offset(0.0) == raw  # replaces, does not accumulate
    assert raw.offset_mmhg == 0.0  # the original is unchanged

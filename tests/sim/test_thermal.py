"""Heat pad physics against its own laws: energy balance, steady state, lag, stability."""

import pytest

from sim.params import PadParams, load_sim_params
from sim.thermal import PadThermal


@pytest.fixture
def pad_params() -> PadParams:
    return load_sim_params().pads


def run(pad: PadThermal, seconds: float, dt_s: float, power_fraction: float) -> None:
    for _ in range(round(seconds / dt_s)):
        pad.step(dt_s, power_fraction)


def test_full_power_settles_where_losses_equal_the_heater_power(pad_params):
    pad = PadThermal(pad_params, start_c=22.0)
    run(pad, 4 * 3600, 1.0, 1.0)
    assert pad.surface_c == pytest.approx(pad.steady_state_surface_c(1.0), abs=0.01)
    assert pad.element_c == pytest.approx(pad.steady_state_element_c(1.0), abs=0.01)
    assert pad.heat_loss_w == pytest.approx(pad_params.heater_power_w, rel=1e-3)
    # The element is the hottest part: heat flows element → surface → limb and room.
    assert pad.element_c > pad.surface_c > pad_params.limb_temp_c


def test_energy_in_equals_energy_stored_plus_energy_lost_while_heating(pad_params):
    pad = PadThermal(pad_params, start_c=22.0)
    dt_s = 0.05
    stored_before_j = pad.stored_heat_j
    lost_j = 0.0
    seconds = 600.0
    for _ in range(round(seconds / dt_s)):
        loss_before_w = pad.heat_loss_w
        pad.step(dt_s, 1.0)
        lost_j += 0.5 * (loss_before_w + pad.heat_loss_w) * dt_s
    supplied_j = pad_params.heater_power_w * seconds
    assert supplied_j == pytest.approx(pad.stored_heat_j - stored_before_j + lost_j, rel=1e-3)


def test_full_power_overheats_well_past_the_45_c_trip(pad_params):
    pad = PadThermal(pad_params, start_c=22.0)
    assert 52.0 < pad.steady_state_surface_c(1.0) < 62.0
    run(pad, 10 * 60, 0.05, 1.0)
    assert pad.surface_c > 45.0


def test_full_power_warms_the_surface_from_22_to_40_c_in_two_to_four_minutes(pad_params):
    pad = PadThermal(pad_params, start_c=22.0)
    elapsed_s = 0.0
    while pad.surface_c < 40.0:
        pad.step(0.05, 1.0)
        elapsed_s += 0.05
        assert elapsed_s < 600.0
    assert 120.0 <= elapsed_s <= 240.0


def test_zero_power_settles_between_room_and_limb_temperature(pad_params):
    pad = PadThermal(pad_params, start_c=50.0)
    previous_c = pad.surface_c
    for _ in range(4 * 360):
        run(pad, 10.0, 1.0, 0.0)
        assert pad.surface_c <= previous_c + 1e-9  # cools, never rebounds
        previous_c = pad.surface_c
    assert pad_params.room_temp_c < pad.surface_c < pad_params.limb_temp_c
    assert pad.surface_c == pytest.approx(pad.steady_state_surface_c(0.0), abs=0.01)


def test_sensors_trail_the_surface_while_heating_and_cooling(pad_params):
    pad = PadThermal(pad_params, start_c=22.0)
    while pad.surface_c < 45.0:
        pad.step(0.05, 1.0)
    # The surface is already at the trip point; neither sensor says so yet.
    assert pad.thermistor_c < pad.surface_c
    assert pad.digital_c < pad.thermistor_c  # the MCP9808 board is the slower of the two
    run(pad, 120.0, 0.05, 0.0)
    assert pad.thermistor_c > pad.surface_c
    assert pad.digital_c > pad.thermistor_c


def test_sensors_catch_up_once_the_surface_is_steady(pad_params):
    pad = PadThermal(pad_params, start_c=22.0)
    run(pad, 4 * 3600, 1.0, 0.5)
    assert pad.thermistor_c == pytest.approx(pad.surface_c, abs=0.01)
    assert pad.digital_c == pytest.approx(pad.surface_c, abs=0.01)


def test_power_fraction_is_clipped_to_the_heaters_range(pad_params):
    over = PadThermal(pad_params, start_c=22.0)
    full = PadThermal(pad_params, start_c=22.0)
    under = PadThermal(pad_params, start_c=22.0)
    off = PadThermal(pad_params, start_c=22.0)
    for _ in range(200):
        over.step(0.05, 1.7)
        full.step(0.05, 1.0)
        under.step(0.05, -0.5)
        off.step(0.05, 0.0)
    assert over.surface_c == full.surface_c
    assert under.surface_c == off.surface_c


def test_large_and_small_steps_agree(pad_params):
    # A duty pattern that switches on 0.05 s boundaries, run at the machine's coarsest dt
    # and at a fine one: the exact update makes the two trajectories the same.
    pattern = [(30.0, 1.0), (20.0, 0.0), (40.0, 0.35), (10.0, 1.0), (30.0, 0.0)]
    results = []
    for dt_s in (0.05, 0.001):
        pad = PadThermal(pad_params, start_c=22.0)
        for seconds, fraction in pattern:
            run(pad, seconds, dt_s, fraction)
        results.append(pad)
    coarse, fine = results
    assert coarse.element_c == pytest.approx(fine.element_c, abs=1e-3)
    assert coarse.surface_c == pytest.approx(fine.surface_c, abs=1e-3)
    assert coarse.thermistor_c == pytest.approx(fine.thermistor_c, abs=1e-3)
    assert coarse.digital_c == pytest.approx(fine.digital_c, abs=1e-3)

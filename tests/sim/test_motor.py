"""Roller motor physics: free running, stalling, losing power, and step-size independence."""

import pytest

from sim.motor import RollerPhysics
from sim.params import MotorParams, load_sim_params


@pytest.fixture
def motor_params() -> MotorParams:
    return load_sim_params().motor


def run(roller: RollerPhysics, seconds: float, dt_s: float, command: float,
        powered: bool = True, stalled: bool = False) -> None:
    for _ in range(round(seconds / dt_s)):
        roller.step(dt_s, command, powered, stalled)


@pytest.mark.parametrize("command", [1.0, 0.5, -1.0])
def test_a_stalled_roller_stops_and_draws_stall_current(motor_params, command):
    roller = RollerPhysics(motor_params)
    run(roller, 1.0, 0.02, command)
    run(roller, 0.1, 0.02, command, stalled=True)
    assert roller.speed == 0.0
    assert roller.current_a == pytest.approx(motor_params.stall_current_a * abs(command))


@pytest.mark.parametrize("command", [1.0, 0.6, -0.8])
def test_a_free_roller_settles_at_command_times_one_minus_load(motor_params, command):
    roller = RollerPhysics(motor_params)
    run(roller, 2.0, 0.02, command)
    load = motor_params.load_torque_fraction
    assert roller.speed == pytest.approx(command * (1.0 - load), abs=1e-3)
    expected_a = abs(command) * (motor_params.no_load_current_a
                                 + (motor_params.stall_current_a
                                    - motor_params.no_load_current_a) * load)
    assert roller.current_a == pytest.approx(expected_a, rel=1e-3)
    assert motor_params.no_load_current_a * abs(command) < roller.current_a
    assert roller.current_a < motor_params.stall_current_a * abs(command)


def test_speed_follows_the_command_with_the_mechanical_time_constant(motor_params):
    roller = RollerPhysics(motor_params)
    run(roller, motor_params.speed_time_constant_s, 0.001, 1.0)
    final = 1.0 - motor_params.load_torque_fraction
    assert roller.speed == pytest.approx(final * (1.0 - 0.36788), rel=1e-3)


def test_starting_up_draws_near_stall_current_then_less_as_it_spins(motor_params):
    roller = RollerPhysics(motor_params)
    roller.step(0.001, 1.0, True, False)
    inrush_a = roller.current_a
    run(roller, 1.0, 0.02, 1.0)
    assert inrush_a > 0.95 * motor_params.stall_current_a
    assert roller.current_a < 0.5 * inrush_a


def test_a_heavier_leg_slows_the_roller_and_raises_its_current(motor_params):
    light, heavy = RollerPhysics(motor_params), RollerPhysics(motor_params)
    heavy.load_torque_fraction = 0.6
    run(light, 2.0, 0.02, 1.0)
    run(heavy, 2.0, 0.02, 1.0)
    assert heavy.speed < light.speed
    assert heavy.current_a > light.current_a


def test_an_unpowered_roller_coasts_to_rest_and_draws_nothing(motor_params):
    roller = RollerPhysics(motor_params)
    run(roller, 1.0, 0.02, 1.0)
    roller.step(0.02, 1.0, False, False)
    assert roller.current_a == 0.0
    run(roller, 1.0, 0.02, 1.0, powered=False)
    assert abs(roller.speed) < 0.01
    assert roller.current_a == 0.0


def test_reversing_direction_never_draws_more_than_stall_current(motor_params):
    roller = RollerPhysics(motor_params)
    run(roller, 1.0, 0.02, 1.0)
    peak_a = 0.0
    for _ in range(50):
        roller.step(0.02, -1.0, True, False)
        peak_a = max(peak_a, roller.current_a)
    assert peak_a == pytest.approx(motor_params.stall_current_a)
    assert roller.speed < 0.0


def test_speed_in_rpm_is_signed_and_scaled_by_free_speed(motor_params):
    roller = RollerPhysics(motor_params)
    run(roller, 2.0, 0.02, -1.0)
    assert roller.speed_rpm == pytest.approx(roller.speed * motor_params.free_speed_rpm)
    assert roller.speed_rpm < 0.0


def test_large_and_small_steps_agree(motor_params):
    pattern = [(0.5, 1.0, True, False), (0.3, -0.6, True, False), (0.2, -0.6, True, True),
               (0.4, 0.4, True, False), (0.3, 0.4, False, False), (0.25, 0.9, True, False)]
    results = []
    for dt_s in (0.05, 0.001):
        roller = RollerPhysics(motor_params)
        for seconds, command, powered, stalled in pattern:
            run(roller, seconds, dt_s, command, powered, stalled)
        results.append(roller)
    coarse, fine = results
    assert coarse.speed == pytest.approx(fine.speed, abs=1e-6)
    assert coarse.current_a == pytest.approx(fine.current_a, abs=1e-6)

"""The PID loop behaves as a heater loop must: bounded, no kick, no windup, blind to NaN."""

import math

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from controller.control.pid import Pid

DT_S = 0.25


def test_output_stays_within_its_limits():
    pid = Pid(5.0, 0.1, 0.0, derivative_filter_s=1.0)
    assert pid.update(0.0, 100.0, 0.0) == 1.0
    assert pid.update(200.0, 100.0, DT_S) == 0.0
    signed = Pid(5.0, 0.0, 0.0, derivative_filter_s=1.0, out_min=-0.5, out_max=0.5)
    assert signed.update(0.0, 100.0, 0.0) == 0.5
    assert signed.update(200.0, 100.0, DT_S) == -0.5


def test_a_setpoint_step_does_not_kick_the_derivative():
    # Derivative on the measurement: a steady reading gives no derivative whatever the setpoint does.
    pid = Pid(0.0, 0.0, 50.0, derivative_filter_s=2.0)
    t = 0.0
    for _ in range(20):
        assert pid.update(30.0, 30.0, t) == 0.0
        t += DT_S
    assert pid.update(30.0, 40.0, t) == 0.0  # setpoint +10 °C: nothing from D

    p_only = Pid(0.05, 0.0, 50.0, derivative_filter_s=2.0)
    before = p_only.update(30.0, 31.0, 0.0)
    after = p_only.update(30.0, 35.0, DT_S)
    assert after - before == pytest.approx(0.05 * 4.0)  # exactly the proportional step


def test_the_derivative_brakes_a_rising_measurement_through_its_filter():
    pid = Pid(0.0, 0.0, 10.0, derivative_filter_s=2.0, out_min=-1.0, out_max=1.0)
    pid.update(30.0, 40.0, 0.0)
    first = pid.update(30.1, 40.0, DT_S)  # +0.4 °C/s raw
    assert -4.0 * 1.0 < first < 0.0  # braking, but filtered: far less than kd × raw (4.0)
    out = first
    t = DT_S
    for i in range(40):
        t += DT_S
        out = pid.update(30.1 + 0.1 * (i + 1), 40.0, t)
    assert out == pytest.approx(-1.0, abs=0.01)  # settles on kd × 0.4 °C/s (clamped to -1)


def test_after_a_long_saturation_the_output_leaves_the_limit_as_soon_as_the_error_turns():
    pid = Pid(0.02, 0.01, 0.0, derivative_filter_s=1.0)
    t = 0.0
    for _ in range(4000):  # 1000 s far below the setpoint: saturated at full output
        out = pid.update(20.0, 40.0, t)
        t += DT_S
    assert out == 1.0
    # The integral stopped growing when the output saturated: it never pushes past the limit.
    assert pid.integral <= 1.0 - 0.02 * 20.0 + 0.01 * 20.0 * DT_S
    out = pid.update(40.5, 40.0, t)  # the error turns
    assert out < 1.0
    t += DT_S
    out = pid.update(41.0, 40.0, t)
    assert out < 0.65  # a windup integral would hold it at 1.0 for minutes


def test_nan_measurement_gives_zero_and_changes_nothing():
    a = Pid(0.2, 0.01, 1.0, derivative_filter_s=2.0)
    b = Pid(0.2, 0.01, 1.0, derivative_filter_s=2.0)
    t = 0.0
    for temp in (25.0, 26.0, 27.5, 29.0):
        a.update(temp, 40.0, t)
        b.update(temp, 40.0, t)
        t += DT_S
    assert a.update(math.nan, 40.0, t) == 0.0
    assert a.update(30.0, math.nan, t) == 0.0
    t += DT_S
    assert a.update(30.0, 40.0, t) == b.update(30.0, 40.0, t)


def test_first_call_and_repeated_or_backward_time_are_harmless():
    pid = Pid(0.1, 0.05, 5.0, derivative_filter_s=2.0)
    assert pid.update(35.0, 40.0, 100.0) == pytest.approx(0.5)  # proportional only: no dt yet
    assert pid.integral == 0.0
    assert pid.update(35.0, 40.0, 100.0) == pytest.approx(0.5)  # dt = 0: nothing integrated
    assert pid.update(30.0, 40.0, 99.0) == pytest.approx(1.0)  # dt < 0: P only, still bounded
    assert pid.integral == 0.0
    out = pid.update(35.0, 40.0, 100.25)  # derivative still taken against the last good sample
    assert out == pytest.approx(0.5 + 0.05 * 5.0 * 0.25)
    assert pid.update(36.0, 40.0, 100.25 + 1e-9) == pytest.approx(0.4 + 0.05 * 5.0 * 0.25)  # no divide by ~0


def test_reset_forgets_the_integral_and_the_derivative():
    pid = Pid(0.1, 0.05, 5.0, derivative_filter_s=2.0)
    for i in range(40):
        pid.update(38.0 + 0.01 * i, 40.0, i * DT_S)
    pid.reset()
    assert pid.integral == 0.0
    assert pid.update(39.0, 40.0, 100.0) == pytest.approx(0.1)


@settings(max_examples=200, deadline=None)
@example(gains=(1.0, 0.0, 1.0), samples=[(0.0, 0.0, 0.0), (1.0, 0.0, 2.2e-309)])  # a subnormal interval
@given(
    gains=st.tuples(st.floats(0, 10), st.floats(0, 1), st.floats(0, 50)),
    samples=st.lists(st.tuples(st.floats(-50, 150), st.floats(0, 100), st.floats(-1.0, 5.0)), min_size=1, max_size=60),
)
def test_output_is_always_finite_and_within_limits(gains, samples):
    pid = Pid(*gains, derivative_filter_s=1.0)
    t = 0.0
    for measured, setpoint, dt in samples:
        t += dt
        out = pid.update(measured, setpoint, t)
        assert math.isfinite(out) and 0.0 <= out <= 1.0
        assert 0.0 <= pid.integral <= 1.0

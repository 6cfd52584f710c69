"""The heater is time-proportioned by the scan cycle on a plain GPIO output: one step a tick,
one slot of a 2 s window, so a cut reaches the pin at once and a duty under 1 % still heats."""

import math

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from drivers.heater import Heater


@pytest.fixture
def factory():
    factory = MockFactory(pin_class=MockPWMPin)
    yield factory
    factory.close()
    factory.reset()


def run(heater: Heater, pin, steps: int) -> list[bool]:
    levels = []
    for _ in range(steps):
        heater.step()
        levels.append(bool(pin.state))
    return levels


def test_a_plain_output_that_starts_low(factory):
    heater = Heater(16, pin_factory=factory)
    pin = factory.pin(16)
    assert pin.function == "output" and pin.frequency is None  # no software PWM
    assert heater.duty == 0.0 and not pin.state and not heater.is_on
    assert heater.slots == 100  # 2 s of 20 ms ticks: one slot = 1 %


def test_duty_is_the_on_slots_of_each_window_at_its_start(factory):
    heater = Heater(16, pin_factory=factory)
    pin = factory.pin(16)
    heater.set_duty(0.3)
    levels = run(heater, pin, 300)
    for window in range(3):
        assert levels[window * 100:(window + 1) * 100] == [True] * 30 + [False] * 70
    edges = sum(a != b for a, b in zip(levels, levels[1:]))
    assert edges == 5  # on and off once a window: the MOSFET switches rarely


def test_a_cut_drops_the_pin_at_once_not_at_the_end_of_the_window(factory):
    heater = Heater(16, pin_factory=factory)
    pin = factory.pin(16)
    heater.set_duty(1.0)
    run(heater, pin, 10)
    assert pin.state
    heater.set_duty(0.0)
    assert not pin.state  # before any further step
    heater.set_duty(1.0)
    run(heater, pin, 5)
    heater.off()
    assert not pin.state and heater.duty == 0.0
    assert run(heater, pin, 200) == [False] * 200  # and it stays off


def test_a_lower_duty_mid_window_takes_effect_at_the_next_step(factory):
    heater = Heater(16, pin_factory=factory)
    pin = factory.pin(16)
    heater.set_duty(0.8)
    run(heater, pin, 40)
    heater.set_duty(0.2)  # 20 slots: the window is already past them
    assert run(heater, pin, 1) == [False]


def test_a_duty_under_one_percent_still_heats_on_average(factory):
    """gpiozero's PWM would truncate 0.4 % to 0; the carried fraction gives 2 slots in 5 windows."""
    heater = Heater(16, pin_factory=factory)
    pin = factory.pin(16)
    heater.set_duty(0.004)
    assert sum(run(heater, pin, 500)) == 2
    heater.set_duty(0.337)
    assert sum(run(heater, pin, 1000)) == pytest.approx(337, abs=1)


def test_window_and_step_are_configurable_and_checked(factory):
    heater = Heater(16, period_s=4.0, step_s=0.01, pin_factory=factory)
    assert heater.slots == 400
    with pytest.raises(ValueError, match="period"):
        Heater(20, period_s=0.0, pin_factory=factory)
    with pytest.raises(ValueError, match="step_s"):
        Heater(20, period_s=1.0, step_s=2.0, pin_factory=factory)


def test_nan_duty_is_off(factory):
    heater = Heater(16, pin_factory=factory)
    pin = factory.pin(16)
    heater.set_duty(0.9)
    run(heater, pin, 3)
    heater.set_duty(math.nan)
    assert not pin.state and heater.duty == 0.0

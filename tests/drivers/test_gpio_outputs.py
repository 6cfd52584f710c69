"""Header outputs on gpiozero's mock pins: heaters, pump, rollers, relay, heartbeat, buzzer
(the heater's time-proportioning in test_heater.py, pins after release in test_released_pins.py)."""

import math

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from drivers.buzzer import PanelBuzzer
from drivers.heartbeat import Heartbeat
from drivers.heater import Heater
from drivers.pump import Pump
from drivers.relay import MasterRelay
from drivers.roller_motor import RollerMotor


@pytest.fixture
def factory():
    factory = MockFactory(pin_class=MockPWMPin)
    yield factory
    factory.close()
    factory.reset()


@pytest.mark.parametrize("asked, got", [(1.7, 1.0), (-0.2, 0.0), (math.nan, 0.0), (math.inf, 1.0)])
def test_heater_and_pump_duty_is_clamped_and_nan_means_off(factory, asked, got):
    heater = Heater(5, pin_factory=factory)
    pump = Pump(27, pin_factory=factory)
    heater.set_duty(0.5)
    pump.set_duty(0.5)
    heater.set_duty(asked)
    pump.set_duty(asked)
    heater.step()
    assert heater.duty == got and factory.pin(5).state == (got > 0)
    assert pump.duty == got and factory.pin(27).state == got


def test_pump_runs_at_its_pwm_frequency(factory):
    pump = Pump(27, frequency_hz=2000, pin_factory=factory)
    pin = factory.pin(27)
    assert pin.frequency == 2000 and pin.state == 0
    pump.set_duty(0.6)
    assert pin.state == pytest.approx(0.6) and pump.duty == pytest.approx(0.6)
    pump.close()
    assert pin.state == 0


def test_roller_direction_and_speed(factory):
    roller = RollerMotor(12, 23, pin_factory=factory)
    enable, phase = factory.pin(12), factory.pin(23)
    assert enable.frequency == 1000 and roller.speed == 0.0
    roller.set_speed(0.5)
    assert enable.state == pytest.approx(0.5) and not phase.state
    assert roller.speed == pytest.approx(0.5)
    roller.set_speed(-0.75)
    assert enable.state == pytest.approx(0.75) and phase.state
    assert roller.speed == pytest.approx(-0.75)
    roller.set_speed(0.0)
    assert enable.state == 0 and roller.speed == 0.0


@pytest.mark.parametrize("asked, got", [(3.0, 1.0), (-3.0, -1.0), (math.nan, 0.0)])
def test_roller_speed_is_clamped_and_nan_stops(factory, asked, got):
    roller = RollerMotor(13, 24, pin_factory=factory)
    roller.set_speed(0.4)
    roller.set_speed(asked)
    assert roller.speed == got


def test_roller_speed_changes_do_not_chop_the_pwm(factory):
    roller = RollerMotor(18, 25, frequency_hz=500, pin_factory=factory)
    enable = factory.pin(18)
    assert enable.frequency == 500
    roller.set_speed(0.4)
    enable.clear_states()
    for speed in (0.5, 0.6, 0.7):
        roller.set_speed(speed)
    assert [s.state for s in enable.states] == pytest.approx([0.4, 0.5, 0.6, 0.7])


def test_roller_reversal_stops_the_bridge_before_flipping_phase(factory):
    roller = RollerMotor(19, 26, pin_factory=factory)
    enable = factory.pin(19)
    roller.set_speed(0.5)
    enable.clear_states()
    roller.set_speed(-0.5)
    assert [s.state for s in enable.states] == pytest.approx([0.5, 0.0, 0.5])
    roller.close()
    assert enable.state == 0


def test_relay_starts_open_and_follows_commands(factory):
    relay = MasterRelay(17, pin_factory=factory)
    pin = factory.pin(17)
    assert not relay.is_closed and pin.state == 0
    relay.close()
    assert relay.is_closed and pin.state == 1
    relay.open()
    assert not relay.is_closed and pin.state == 0
    relay.close()
    relay.release()
    assert pin.state == 0


def test_heartbeat_toggles(factory):
    heartbeat = Heartbeat(4, pin_factory=factory)
    pin = factory.pin(4)
    assert heartbeat.value is False and pin.state == 0
    heartbeat.toggle()
    assert heartbeat.value is True and pin.state == 1
    heartbeat.toggle()
    assert heartbeat.value is False and pin.state == 0
    heartbeat.close()


def test_buzzer_on_and_off(factory):
    buzzer = PanelBuzzer(22, pin_factory=factory)
    pin = factory.pin(22)
    assert not buzzer.is_on and pin.state == 0
    buzzer.set(True)
    assert buzzer.is_on and pin.state == 1
    buzzer.set(False)
    assert not buzzer.is_on and pin.state == 0
    buzzer.close()


def test_an_output_without_a_factory_uses_gpiozeros_default_and_is_pulled_down_first(monkeypatch):
    """``pin_factory=None`` (how a Pi build without an explicit factory goes): gpiozero's default
    factory, from the environment, is made once and shared, and the pin is pulled down under it."""
    from gpiozero import Device

    from drivers.gpio_output import LowReleasingOutput, resolve_factory

    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    monkeypatch.setattr(Device, "pin_factory", None)
    made = resolve_factory(None)
    assert isinstance(made, MockFactory) and Device.pin_factory is made
    assert resolve_factory(None) is made
    out = LowReleasingOutput(22)
    try:
        assert made.pin(22).state == 0
        assert made.pin(22).pull == "down"
    finally:
        out.close()
        made.close()
        made.reset()

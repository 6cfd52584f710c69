"""Panel buttons and the e-stop on gpiozero's mock pins: raw edges, and a cut wire stops."""

import pytest
from gpiozero.pins.mock import MockFactory, MockPWMPin

from drivers.buttons import EStopInput, PanelButton


@pytest.fixture
def factory():
    factory = MockFactory(pin_class=MockPWMPin)
    yield factory
    factory.close()
    factory.reset()


def test_button_press_and_release_both_reach_the_callback(factory):
    button = PanelButton(8, pin_factory=factory)
    pin = factory.pin(8)
    events = []
    button.on_change(events.append)
    assert not button.is_pressed  # pulled up: released
    pin.drive_low()
    assert button.is_pressed
    pin.drive_high()
    assert not button.is_pressed
    assert events == [True, False]
    button.close()


def test_button_leaves_debouncing_to_the_controller(factory):
    button = PanelButton(9, pin_factory=factory)
    assert factory.pin(9).bounce is None
    assert factory.pin(9).pull == "up"
    events = []
    button.on_change(events.append)
    for _ in range(3):  # contact bounce arrives as raw edges
        factory.pin(9).drive_low()
        factory.pin(9).drive_high()
    assert events == [True, False] * 3


def test_estop_intact_circuit_is_not_tripped(factory):
    pin = factory.pin(21)
    estop = EStopInput(21, pin_factory=factory)
    pin.drive_low()  # the normally-closed contact holds the pin at GND
    assert not estop.is_tripped


def test_estop_press_trips_and_release_reports_back(factory):
    estop = EStopInput(21, pin_factory=factory)
    pin = factory.pin(21)
    pin.drive_low()
    events = []
    estop.on_change(events.append)
    pin.drive_high()  # contact opens, the pull-up wins
    assert estop.is_tripped
    pin.drive_low()
    assert not estop.is_tripped
    assert events == [True, False]
    estop.close()


def test_estop_with_a_cut_wire_is_tripped(factory):
    # Nothing ever pulls the pin to GND: a cut or unplugged e-stop reads as pressed.
    estop = EStopInput(21, pin_factory=factory)
    assert factory.pin(21).pull == "up"
    assert estop.is_tripped


def test_estop_wire_cut_while_running_trips(factory):
    estop = EStopInput(21, pin_factory=factory)
    pin = factory.pin(21)
    pin.drive_low()
    events = []
    estop.on_change(events.append)
    pin.pull = "up"  # the contact's path to GND is gone; only the pull-up remains
    assert estop.is_tripped and events == [True]

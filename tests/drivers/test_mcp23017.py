"""MCP23017 with valves and LEDs: fail-safe start, glitch-free configuration, cheap ticks."""

import enum

import pytest

from drivers.errors import BusError
from drivers.i2c import I2CBus
from drivers.led import ExpanderLed
from drivers.mcp23017 import MCP23017
from drivers.valve import Valve
from sim.chips.mcp23017 import FakeMCP23017
from sim.i2c_bus import FakeSMBus

VALVE_PINS = range(12)
LED_PINS = range(12, 16)


def make_expander():
    smbus = FakeSMBus(1)
    chip = FakeMCP23017()
    smbus.attach(0x20, chip)
    return MCP23017(I2CBus(smbus, 1), 0x20), chip, smbus


def test_power_on_fake_drives_nothing():
    chip = FakeMCP23017()
    assert chip.iodir == 0xFFFF and chip.latch == 0
    assert not any(chip.pin_out(p) for p in range(16))


def test_configure_latches_low_before_switching_pins_to_outputs():
    expander, chip, _ = make_expander()
    chip.write(0x14, [0xFF, 0xFF])  # a latch left high by a previous run
    seen = []
    chip.on_write = lambda: seen.append((chip.latch, chip.iodir))
    expander.configure_outputs([0, 3, 15])
    assert chip.iodir == 0xFFFF ^ (1 << 0 | 1 << 3 | 1 << 15)
    # No state along the way had an output pin latched high.
    assert seen and all((~iodir & latch) == 0 for latch, iodir in seen)
    assert not any(chip.pin_out(p) for p in range(16))


def test_set_pin_shows_at_flush_and_reads_back():
    expander, chip, _ = make_expander()
    expander.configure_outputs(range(16))
    expander.set_pin(2, True)
    expander.set_pin(9, True)
    assert expander.pin(2) and expander.pin(9) and not expander.pin(3)
    assert chip.latch == 0  # nothing written yet
    expander.flush()
    assert chip.latch == (1 << 2 | 1 << 9)
    assert chip.pin_out(2) and chip.pin_out(9)
    assert expander.read_latch() == (1 << 2 | 1 << 9)


def test_a_tick_costs_at_most_two_writes_and_none_if_nothing_changed():
    expander, _, smbus = make_expander()
    expander.configure_outputs(range(16))
    before = smbus.writes
    expander.flush()
    assert smbus.writes == before
    for pin in range(16):
        expander.set_pin(pin, True)
    expander.flush()
    assert smbus.writes - before == 2
    expander.set_pin(1, False)
    expander.flush()
    assert smbus.writes - before == 3  # only port A changed


def test_a_failed_flush_is_retried_and_does_not_block_the_other_port():
    expander, chip, smbus = make_expander()
    expander.configure_outputs(range(16))
    expander.set_pin(0, True)
    smbus.set_missing(0x20, True)
    with pytest.raises(BusError, match="MCP23017 at 0x20"):
        expander.flush()
    smbus.set_missing(0x20, False)
    expander.flush()
    assert chip.latch == 1


def test_input_pins_are_not_driven_even_if_latched_high():
    expander, chip, _ = make_expander()
    expander.configure_outputs([0])
    expander.set_pin(1, True)  # pin 1 stays an input
    expander.flush()
    assert not chip.pin_out(1)


@pytest.mark.parametrize("pin", [-1, 16, True])
def test_bad_pins_are_refused(pin):
    expander, _, _ = make_expander()
    with pytest.raises(ValueError):
        expander.set_pin(pin, True)


def test_unpowered_valves_vent_every_chamber():
    expander, chip, _ = make_expander()
    fill = Valve(expander, 0, normally_open=False)
    vent = Valve(expander, 6, normally_open=True)
    expander.configure_outputs(VALVE_PINS)
    expander.flush()
    assert not fill.is_open and vent.is_open
    assert not chip.pin_out(0) and not chip.pin_out(6)


def test_inflating_energises_fill_and_vent_coils():
    expander, chip, _ = make_expander()
    fill = Valve(expander, 0, normally_open=False)
    vent = Valve(expander, 6, normally_open=True)
    expander.configure_outputs(VALVE_PINS)
    fill.set_open(True)
    vent.set_open(False)  # normally open: energised to close
    expander.flush()
    assert fill.is_open and not vent.is_open
    assert chip.pin_out(0) and chip.pin_out(6)
    vent.set_open(True)
    expander.flush()
    assert not chip.pin_out(6)


def test_leds_share_the_expander_with_the_valves():
    expander, chip, _ = make_expander()
    expander.configure_outputs(list(VALVE_PINS) + list(LED_PINS))
    fault = ExpanderLed(expander, 14)
    fill = Valve(expander, 1, normally_open=False)
    fault.set(True)
    fill.set_open(True)
    expander.flush()
    assert fault.is_on and chip.pin_out(14) and chip.pin_out(1)
    fault.set(False)
    expander.flush()
    assert not chip.pin_out(14) and chip.pin_out(1)


def test_fake_block_transfers_follow_the_address_pointer():
    chip = FakeMCP23017()
    chip.write(0x14, [0x12, 0x34])  # sequential: OLATA then OLATB
    assert chip.latch == 0x3412
    assert chip.read(0x14, 2) == [0x12, 0x34]
    chip.write(0x0A, [0x20])  # IOCON.SEQOP: byte mode toggles within the pair
    chip.write(0x14, [0x01, 0x02, 0x03])
    assert chip.latch == 0x0203


def test_fake_gpio_reads_outputs_from_the_latch_and_inputs_from_outside():
    chip = FakeMCP23017()
    chip.write(0x00, [0xF0])  # A0..A3 outputs
    chip.write(0x12, [0x05])  # writing GPIO writes OLAT
    chip.input_levels = 0x00A0
    assert chip.read(0x12, 1) == [0xA5]


def test_fake_tells_the_simulator_before_and_after_outputs_change():
    chip = FakeMCP23017()
    chip.write(0x00, [0x00])  # port A outputs
    seen = []
    chip.on_write = lambda: seen.append(chip.pin_out(0))
    chip.write(0x14, [0x01])
    assert seen == [False, True]  # the old output, to integrate up to now; then the new one
    chip.write(0x14, [0x01])  # no change, no call
    chip.write(0x02, [0xFF])  # input polarity: not an output change
    assert seen == [False, True]


class Pin(enum.IntEnum):
    VALVE = 3


def test_expander_pins_may_be_int_subclasses_but_not_bools():
    smbus = FakeSMBus()
    smbus.attach(0x20, FakeMCP23017())
    expander = MCP23017(I2CBus(smbus, 1), 0x20)
    expander.set_pin(Pin.VALVE, True)
    assert expander.pin(Pin.VALVE) and expander.pin(3)
    for bad in (True, 16, -1, 2.0):
        with pytest.raises(ValueError, match="MCP23017 pin"):
            expander.set_pin(bad, True)
        with pytest.raises(ValueError, match="MCP23017 pin"):
            expander.pin(bad)

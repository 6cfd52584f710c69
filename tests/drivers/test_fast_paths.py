"""The drivers' inlined checks and polls behave exactly as the general code they replace."""

import enum

import pytest

from drivers.ads1115 import ADS1115
from drivers.errors import BusError
from drivers.i2c import I2CBus
from drivers.mcp23017 import MCP23017
from sim.chips.ads1115 import FakeADS1115
from sim.chips.mcp23017 import FakeMCP23017
from sim.i2c_bus import FakeSMBus


class SlowADS1115(FakeADS1115):
    """Reports "converting" (OS = 0) for the first `busy_polls` polls after each start."""

    def __init__(self, volts, busy_polls):
        super().__init__(volts)
        self.busy_polls = busy_polls
        self._left = 0

    def write(self, register, data):
        super().write(register, data)
        if register == 0x01:
            self._left = self.busy_polls

    def read(self, register, length):
        data = super().read(register, length)
        if register == 0x01 and self._left:
            self._left -= 1
            data[0] &= 0x7F
        return data


class Clock:
    def __init__(self):
        self.now = 0.0
        self.reads = 0
        self.sleeps = []

    def monotonic(self):
        self.reads += 1
        return self.now

    def sleep(self, s):
        self.sleeps.append(s)
        self.now += s


@pytest.mark.parametrize("busy_polls, sleeps", [(0, 0), (1, 1), (3, 3)])
def test_a_slow_conversion_polls_then_sleeps_until_ready(busy_polls, sleeps):
    smbus = FakeSMBus()
    smbus.attach(0x48, SlowADS1115(lambda ch: 1.0, busy_polls))
    clock = Clock()
    adc = ADS1115(I2CBus(smbus, 1), 0x48, sleep=clock.sleep, monotonic=clock.monotonic)
    assert adc.read_voltage(0) == pytest.approx(1.0, abs=0.000125)
    assert len(clock.sleeps) == sleeps
    assert smbus.transactions == 3 + busy_polls  # config, a poll per sleep plus one, result
    if busy_polls == 0:
        assert clock.reads == 0  # a ready chip never reads the clock
    else:
        assert clock.sleeps[0] == pytest.approx(1.1 / 860)
        assert clock.sleeps[1:] == [pytest.approx(1.1 / 860 / 4)] * (sleeps - 1)


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


def test_bus_range_errors_name_the_field():
    smbus = FakeSMBus()
    bus = I2CBus(smbus, 1)
    with pytest.raises(ValueError, match="register 256 does not fit in a byte"):
        bus.read_u16_be("X", 0x48, 256)
    with pytest.raises(ValueError, match="register -1 does not fit in a byte"):
        bus.write_u16_be("X", 0x48, -1, 0)
    with pytest.raises(ValueError, match="value 65536 does not fit in 16 bits"):
        bus.write_u16_be("X", 0x48, 0, 0x10000)
    with pytest.raises(ValueError, match="value 256 does not fit in a byte"):
        bus.write_u8("X", 0x48, 0, 256)
    with pytest.raises(ValueError, match="register 300 does not fit in a byte"):
        bus.read_u8("X", 0x48, 300)
    assert smbus.transactions == 0


def test_a_failed_transfer_releases_the_bus_lock():
    smbus = FakeSMBus()
    bus = I2CBus(smbus, 1)
    transfers = [
        lambda: bus.read_u16_be("X", 0x48, 0),
        lambda: bus.write_u16_be("X", 0x48, 0, 1),
        lambda: bus.read_u8("X", 0x48, 0),
        lambda: bus.write_u8("X", 0x48, 0, 1),
    ]
    for transfer in transfers:
        with pytest.raises(BusError):
            transfer()
    smbus.attach(0x48, FakeADS1115(lambda ch: 0.0))
    assert bus.read_u16_be("X", 0x48, 0x02) == 0x8000  # would hang if a lock had leaked

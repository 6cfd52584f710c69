"""The fake I2C bus: which chips answer, which fault Linux would report first, and a chip
model that returns bytes no chip could is caught rather than passed on to a driver."""

import pytest

from sim.i2c_bus import FakeSMBus


class Register:
    def __init__(self):
        self.value = [0x12, 0x34]

    def read(self, register, length):
        return list(self.value[:length])

    def write(self, register, data):
        self.value = list(data)


# -- the fake bus: which chips answer, and which fault wins ---------------------------------


def test_a_chip_attached_while_marked_missing_stays_silent_until_restored():
    bus = FakeSMBus()
    bus.set_missing(0x48)
    bus.attach(0x48, Register())
    with pytest.raises(OSError) as info:
        bus.read_i2c_block_data(0x48, 0, 2)
    assert info.value.errno == 121
    bus.set_missing(0x48, False)
    assert bus.read_i2c_block_data(0x48, 0, 2) == [0x12, 0x34]


def test_restoring_an_address_with_nothing_attached_still_nacks():
    bus = FakeSMBus()
    bus.set_missing(0x49)
    bus.set_missing(0x49, False)
    with pytest.raises(OSError) as info:
        bus.write_i2c_block_data(0x49, 0, [1])
    assert info.value.errno == 121
    assert (bus.transactions, bus.writes) == (1, 1)


def test_a_closed_bus_fails_before_a_hung_one_stalls_and_a_hang_before_a_nack():
    stalls = []
    bus = FakeSMBus()
    bus.set_missing(0x48)
    bus.set_hang(True, stall=stalls.append, stall_s=0.5)
    with pytest.raises(OSError) as info:
        bus.read_i2c_block_data(0x48, 0, 2)
    assert info.value.errno == 110 and stalls == [0.5]
    bus.close()
    bus.set_hang(False)  # closed stays closed
    with pytest.raises(OSError) as info:
        bus.read_i2c_block_data(0x48, 0, 2)
    assert info.value.errno == 9 and stalls == [0.5]
    assert bus.transactions == 2


def test_a_chip_model_returning_a_bad_byte_is_caught():
    bus = FakeSMBus()
    chip = Register()
    bus.attach(0x48, chip)
    chip.value = [0x12, 0x100]
    with pytest.raises(AssertionError, match="0x48"):
        bus.read_i2c_block_data(0x48, 0, 2)
    chip.value = [0x12]
    with pytest.raises(AssertionError, match="0x48"):
        bus.read_i2c_block_data(0x48, 0, 2)

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


# -- how each Pi reports a hung bus, and a chip holding SDA low -------------------------------


@pytest.mark.parametrize("kind, errno_code, seconds", [
    ("pi4_clock_stretch", 5, 0.035), ("pi4_adapter_timeout", 110, 1.0),
    ("pi5_timeout", 110, 1.0), ("pi5_busy", 11, 1.0)])
def test_each_pis_hang_fails_with_its_errno_after_its_timeout(kind, errno_code, seconds):
    bus = FakeSMBus()
    bus.attach(0x48, Register())
    stalls = []
    bus.set_hang_kind(kind, stall=stalls.append)
    for transfer in (lambda: bus.read_i2c_block_data(0x48, 0, 2), lambda: bus.write_byte_data(0x48, 1, 2)):
        with pytest.raises(OSError) as info:
            transfer()
        assert info.value.errno == errno_code
    assert stalls == [seconds, seconds]


def test_sda_held_low_reads_zeros_and_swallows_writes_without_an_error():
    bus = FakeSMBus()
    chip = Register()
    bus.attach(0x48, chip)
    bus.set_sda_stuck_low(True)
    assert bus.read_i2c_block_data(0x48, 0, 2) == [0, 0]
    assert bus.read_i2c_block_data(0x33, 0, 2) == [0, 0]  # even where no chip is: SDA low is an ACK
    bus.write_i2c_block_data(0x48, 0, [0xAB, 0xCD])
    assert chip.value == [0x12, 0x34]  # the write never arrived
    bus.set_sda_stuck_low(False)
    assert bus.read_i2c_block_data(0x48, 0, 2) == [0x12, 0x34]

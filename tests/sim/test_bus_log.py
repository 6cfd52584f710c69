"""The fake bus's transaction log, what the bus timing model reads: every attempted transfer
with its direction, register and bytes, a NACK marked, and nothing kept unless recording."""

import pytest

from sim.i2c_bus import FakeSMBus, Transfer


class Register:
    def read(self, register, length):
        return [0x12, 0x34][:length]

    def write(self, register, data):
        pass


def test_transfers_are_logged_only_while_recording_and_taken_once():
    bus = FakeSMBus()
    bus.attach(0x48, Register())
    bus.read_i2c_block_data(0x48, 0, 2)
    assert bus.take_transfers() == []  # not recording: nothing kept
    bus.record_transfers(True)
    bus.write_i2c_block_data(0x48, 1, [0xC5, 0xE3])
    assert bus.read_i2c_block_data(0x48, 0, 2) == [0x12, 0x34]
    with pytest.raises(OSError):
        bus.read_i2c_block_data(0x49, 0, 2)  # nobody there
    assert bus.take_transfers() == [Transfer(0x48, True, 1, (0xC5, 0xE3)), Transfer(0x48, False, 0, (0x12, 0x34)),
                                    Transfer(0x49, False, 0, (), acked=False)]
    assert bus.take_transfers() == []
    bus.record_transfers(False)
    bus.read_i2c_block_data(0x48, 0, 2)
    assert bus.log is None


def test_a_held_low_sda_is_logged_as_the_zeros_it_reads():
    bus = FakeSMBus()
    bus.attach(0x18, Register())
    bus.record_transfers(True)
    bus.set_sda_stuck_low(True)
    assert bus.read_i2c_block_data(0x18, 5, 2) == [0, 0]
    assert bus.take_transfers() == [Transfer(0x18, False, 5, (0, 0))]


@pytest.mark.parametrize("clocks", [0, 10])
def test_a_slave_mid_byte_releases_within_one_to_nine_clocks(clocks):
    with pytest.raises(ValueError, match="within 9 clocks"):
        FakeSMBus().set_sda_stuck_low(True, release_after_clocks=clocks)

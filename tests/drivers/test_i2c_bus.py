"""The shared bus: big-endian registers, and bus faults reported with chip, address and errno."""

import pickle

import pytest

from drivers.errors import BusError, ConversionTimeout, DriverError
from drivers.i2c import I2CBus
from sim.chips.ads1115 import FakeADS1115
from sim.i2c_bus import FakeSMBus


class RecordingChip:
    """A bare register file that remembers raw byte traffic."""

    def __init__(self):
        self.regs = {}
        self.writes = []

    def read(self, register, length):
        return list(self.regs.get(register, [0] * length))[:length]

    def write(self, register, data):
        self.writes.append((register, list(data)))
        self.regs[register] = list(data)


def make_bus():
    smbus = FakeSMBus(bus_number=1)
    chip = RecordingChip()
    smbus.attach(0x48, chip)
    return smbus, I2CBus(smbus, 1), chip


def test_16_bit_registers_go_out_msb_first():
    _, bus, chip = make_bus()
    bus.write_u16_be("ADS1115", 0x48, 0x01, 0x8583)
    assert chip.writes == [(0x01, [0x85, 0x83])]
    assert bus.read_u16_be("ADS1115", 0x48, 0x01) == 0x8583


def test_byte_registers_round_trip():
    _, bus, chip = make_bus()
    bus.write_u8("MCP23017", 0x48, 0x14, 0xA5)
    assert chip.writes == [(0x14, [0xA5])]
    assert bus.read_u8("MCP23017", 0x48, 0x14) == 0xA5


def test_values_that_do_not_fit_are_refused_before_the_bus():
    smbus, bus, _ = make_bus()
    with pytest.raises(ValueError):
        bus.write_u16_be("X", 0x48, 0x01, 0x10000)
    with pytest.raises(ValueError):
        bus.write_u8("X", 0x48, 0x01, 256)
    with pytest.raises(ValueError):
        bus.read_u8("X", 0x48, 0x100)
    assert smbus.transactions == 0


def test_missing_chip_names_the_chip_and_address():
    smbus, bus, _ = make_bus()
    smbus.set_missing(0x48, True)
    with pytest.raises(BusError) as info:
        bus.read_u16_be("ADS1115", 0x48, 0x00)
    err = info.value
    assert (err.chip, err.address, err.bus, err.errno) == ("ADS1115", 0x48, 1, 121)
    assert str(err) == "ADS1115 at 0x48 on i2c-1: no answer (chip missing or NACK) [errno 121]"
    smbus.set_missing(0x48, False)
    assert bus.read_u16_be("ADS1115", 0x48, 0x00) == 0


def test_nothing_attached_at_an_address_is_a_missing_chip():
    _, bus, _ = make_bus()
    with pytest.raises(BusError) as info:
        bus.read_u8("MCP9808", 0x18, 0x05)
    assert info.value.errno == 121
    assert "MCP9808 at 0x18 on i2c-1" in str(info.value)


def test_hung_bus_stalls_then_times_out():
    smbus, bus, _ = make_bus()
    stalls = []
    smbus.set_hang(True, stall=stalls.append, stall_s=0.25)
    with pytest.raises(BusError) as info:
        bus.write_u16_be("ADS1115", 0x48, 0x01, 0x1234)
    assert info.value.errno == 110
    assert "bus timeout" in str(info.value)
    assert stalls == [0.25]
    smbus.set_hang(False)
    bus.write_u16_be("ADS1115", 0x48, 0x01, 0x1234)


def test_errno_wording():
    assert "bus error [errno 5]" in str(BusError("INA219", 0x40, 1, 5))
    err = BusError("INA219", 0x40, 3, None, "short read")
    assert str(err) == "INA219 at 0x40 on i2c-3: short read"
    assert "errno 16" in str(BusError("INA219", 0x40, 1, 16))


def test_error_hierarchy_and_pickling():
    err = ConversionTimeout("ADS1115", 0x49, 1, None, "conversion not ready after 50 ms")
    assert isinstance(err, BusError) and isinstance(err, DriverError)
    copy = pickle.loads(pickle.dumps(err))
    assert str(copy) == str(err) and type(copy) is ConversionTimeout


def test_transactions_are_counted_including_failures():
    smbus, bus, _ = make_bus()
    bus.read_u8("X", 0x48, 0)
    bus.write_u8("X", 0x48, 0, 1)
    smbus.set_missing(0x48, True)
    with pytest.raises(BusError):
        bus.read_u8("X", 0x48, 0)
    assert smbus.transactions == 3
    assert smbus.writes == 1


def test_closed_bus_fails_as_a_bus_error():
    smbus, bus, _ = make_bus()
    with bus:
        pass
    with pytest.raises(BusError):
        bus.read_u8("X", 0x48, 0)


def test_fake_bus_is_strict_about_smbus_limits():
    smbus, _, _ = make_bus()
    with pytest.raises(ValueError):
        smbus.read_i2c_block_data(0x48, 0, 33)
    with pytest.raises(ValueError):
        smbus.write_i2c_block_data(0x48, 0, [0] * 33)
    with pytest.raises(ValueError):
        smbus.attach(0x48, RecordingChip())  # address already taken


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

"""MCP9808: identity check and T_A decoding per the datasheet, flags masked, sign honoured."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import BusError, DriverError
from drivers.i2c import I2CBus
from drivers.mcp9808 import MCP9808, decode_t_a
from sim.chips.mcp9808 import FakeMCP9808
from sim.i2c_bus import FakeSMBus

DETERMINISTIC = settings(derandomize=True, database=None, max_examples=200, deadline=None)


def make_sensor(temp_c, address=0x18):
    smbus = FakeSMBus(1)
    chip = FakeMCP9808(temp_c)
    smbus.attach(address, chip)
    bus = I2CBus(smbus, 1)
    return MCP9808(bus, address), chip, smbus, bus


@pytest.mark.parametrize(
    "raw, temp_c",
    [
        (0x0194, 25.25),  # 0000 0001 1001 0100
        (0xC194, 25.25),  # same, with the T_CRIT and T_UPPER flags set
        (0x0000, 0.0),
        (0x0001, 0.0625),
        (0x1FFF, -0.0625),  # sign bit 12, all ones
        (0x1F58, -10.5),
        (0x3F58, -10.5),  # with the T_LOWER flag
        (0x1E70, -25.0),
        (0x07FF, 127.9375),
        (0x1000, -256.0),
    ],
)
def test_t_a_encodings(raw, temp_c):
    assert decode_t_a(raw) == temp_c


def test_reads_a_warm_pad_despite_the_alert_flags():
    sensor, chip, _, bus = make_sensor(lambda: 25.25)
    assert bus.read_u16_be("MCP9808", 0x18, 0x05) == 0xC194  # limits at their 0 °C default
    assert sensor.read_temp_c() == 25.25


def test_reads_below_zero():
    sensor, _, _, bus = make_sensor(lambda: -10.5)
    assert bus.read_u16_be("MCP9808", 0x18, 0x05) == 0x3F58
    assert sensor.read_temp_c() == -10.5


@DETERMINISTIC
@given(t=st.floats(min_value=-40.0, max_value=125.0))
def test_round_trip_through_the_chip_within_half_an_lsb(t):
    sensor, _, _, _ = make_sensor(lambda: t)
    assert abs(sensor.read_temp_c() - t) <= 0.03125 + 1e-9


def test_probe_accepts_an_mcp9808():
    sensor, _, _, _ = make_sensor(lambda: 20.0)
    sensor.probe()


def test_probe_names_what_it_found_at_the_address():
    class Impostor:
        def read(self, register, length):
            return [0x12, 0x34]

        def write(self, register, data):
            pass

    smbus = FakeSMBus(1)
    smbus.attach(0x19, Impostor())
    with pytest.raises(DriverError, match="0x1234") as info:
        MCP9808(I2CBus(smbus, 1), 0x19).probe()
    assert "0x19" in str(info.value) and not isinstance(info.value, BusError)


def test_missing_sensor_is_a_bus_error():
    sensor, _, smbus, _ = make_sensor(lambda: 20.0)
    smbus.set_missing(0x18, True)
    with pytest.raises(BusError, match="MCP9808 at 0x18"):
        sensor.read_temp_c()


def test_fake_resolution_register_coarsens_the_reading():
    sensor, _, _, bus = make_sensor(lambda: 25.3)
    assert bus.read_u8("MCP9808", 0x18, 0x08) == 0b11  # power-on: 0.0625 °C
    assert sensor.read_temp_c() == 25.3125
    bus.write_u8("MCP9808", 0x18, 0x08, 0b00)  # 0.5 °C
    assert sensor.read_temp_c() == 25.0


def test_fake_flags_follow_the_limit_registers_and_ids_are_read_only():
    sensor, _, _, bus = make_sensor(lambda: 30.0)
    bus.write_u16_be("MCP9808", 0x18, 0x02, 0x0280)  # T_UPPER 40 °C
    bus.write_u16_be("MCP9808", 0x18, 0x04, 0x02D0)  # T_CRIT 45 °C
    assert bus.read_u16_be("MCP9808", 0x18, 0x05) == 0x01E0
    bus.write_u16_be("MCP9808", 0x18, 0x06, 0xFFFF)
    assert bus.read_u16_be("MCP9808", 0x18, 0x06) == 0x0054
    assert bus.read_u16_be("MCP9808", 0x18, 0x07) == 0x0400

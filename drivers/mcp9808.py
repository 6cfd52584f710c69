"""MCP9808 digital temperature sensor (Microchip DS25095): the second, independent pad sensor."""

from __future__ import annotations

from .errors import DriverError, StuckBusReading
from .i2c import I2CBus

CHIP = "MCP9808"

# Register pointers (datasheet table 5-1).
REG_CONFIG = 0x01
REG_T_UPPER = 0x02
REG_T_LOWER = 0x03
REG_T_CRIT = 0x04
REG_T_A = 0x05  # ambient temperature
REG_MANUFACTURER_ID = 0x06
REG_DEVICE_ID = 0x07  # device ID in the upper byte, revision in the lower
REG_RESOLUTION = 0x08

MANUFACTURER_ID = 0x0054
DEVICE_ID = 0x04

T_A_FLAG_BITS = 0xE000  # bits 15..13: T_A >= T_CRIT, T_A > T_UPPER, T_A < T_LOWER
T_A_SIGN_BIT = 0x1000  # bit 12
T_A_LSB_C = 0.0625  # bits 11..0, 2^-4 °C


def decode_t_a(raw: int) -> float:
    """T_A register -> °C, as the datasheet's worked conversion (equation 5-1).

    The datasheet prints the negative branch as 256 - (...), which gives the wrong sign;
    the value is 13-bit two's complement, so it is (...) - 256.
    """
    upper = (raw >> 8) & 0x1F  # clear the flag bits 15..13
    lower = raw & 0xFF
    if upper & 0x10:  # sign bit 12: T_A < 0 °C
        upper &= 0x0F
        return upper * 16 + lower / 16 - 256
    return upper * 16 + lower / 16


class MCP9808:
    def __init__(self, bus: I2CBus, address: int) -> None:
        self._bus = bus
        self.address = address

    def probe(self) -> None:
        """Check the chip at this address is an MCP9808 (not, say, a misaddressed neighbour)."""
        manufacturer = self._bus.read_u16_be(CHIP, self.address, REG_MANUFACTURER_ID)
        device = self._bus.read_u16_be(CHIP, self.address, REG_DEVICE_ID) >> 8
        if manufacturer != MANUFACTURER_ID or device != DEVICE_ID:
            raise DriverError(
                f"{CHIP} at 0x{self.address:02x} on i2c-{self._bus.bus_number}: read "
                f"manufacturer ID 0x{manufacturer:04x}, device ID 0x{device:02x}; "
                f"expected 0x{MANUFACTURER_ID:04x}, 0x{DEVICE_ID:02x} (wrong chip at this address?)"
            )

    def read_temp_c(self) -> float:
        """°C. 0x0000 (exactly 0.0 °C, no flags) and 0xFFFF are what a bus with SDA held low or
        floating returns, not a pad's temperature: refused, so 0.0 °C cannot pass the 0-85 °C
        plausibility range as a reading."""
        raw = self._bus.read_u16_be(CHIP, self.address, REG_T_A)
        if raw in (0x0000, 0xFFFF):
            raise StuckBusReading(CHIP, self.address, self._bus.bus_number, None,
                                  f"read all {'zeros' if raw == 0 else 'ones'} (SDA held low or floating?)")
        return decode_t_a(raw)

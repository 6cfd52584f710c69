"""Register model of the MCP9808 temperature sensor (Microchip DS25095).

T_A is sampled from `temp_c()` at each read (conversions instant), quantised to the resolution
register and carrying the alert flag bits the real chip sets against T_UPPER/T_LOWER/T_CRIT.
With the power-on limits of 0 °C, a warm reading therefore has bits 15 and 14 set (25.25 °C
reads 0xC194), which a driver that forgets to mask them gets badly wrong.
"""

from __future__ import annotations

import math
from typing import Callable

REG_RFU = 0x00
REG_CONFIG = 0x01
REG_T_UPPER = 0x02
REG_T_LOWER = 0x03
REG_T_CRIT = 0x04
REG_T_A = 0x05
REG_MANUFACTURER_ID = 0x06
REG_DEVICE_ID = 0x07
REG_RESOLUTION = 0x08  # the one 8-bit register

MANUFACTURER_ID = 0x0054
DEVICE_ID_REVISION = 0x0400
CONFIG_SHDN = 1 << 8
CONFIG_WRITABLE = 0x07FF  # bits 10..0 (hysteresis, shutdown, lock and alert bits)
LIMIT_MASK = 0x1FFC  # T_UPPER/T_LOWER/T_CRIT: sign bit 12, bits 11..2 (0.25 °C)
RESOLUTION_RESET = 0b11  # +0.0625 °C

FLAG_CRIT = 1 << 15  # T_A >= T_CRIT
FLAG_UPPER = 1 << 14  # T_A > T_UPPER
FLAG_LOWER = 1 << 13  # T_A < T_LOWER


def _to_13bit_signed(raw: int) -> int:
    value = raw & 0x1FFF
    return value - 0x2000 if value & 0x1000 else value


class FakeMCP9808:
    def __init__(self, temp_c: Callable[[], float]) -> None:
        self.temp_c = temp_c
        self._regs = {
            REG_RFU: 0x0000,
            REG_CONFIG: 0x0000,
            REG_T_UPPER: 0x0000,
            REG_T_LOWER: 0x0000,
            REG_T_CRIT: 0x0000,
            REG_T_A: 0x0000,
            REG_MANUFACTURER_ID: MANUFACTURER_ID,
            REG_DEVICE_ID: DEVICE_ID_REVISION,
            REG_RESOLUTION: RESOLUTION_RESET,
        }

    def _check(self, register: int) -> None:
        if register not in self._regs:
            raise ValueError(f"FakeMCP9808 has no register 0x{register:02x}")

    def read(self, register: int, length: int) -> list[int]:
        self._check(register)
        if register == REG_RESOLUTION:
            data = [self._regs[register]]
        else:
            if register == REG_T_A and not self._regs[REG_CONFIG] & CONFIG_SHDN:
                self._regs[REG_T_A] = self._sample()  # in shutdown T_A holds the last value
            value = self._regs[register]
            data = [value >> 8, value & 0xFF]
        if length == len(data):
            return data  # the usual whole-register read
        return (data + [0xFF] * length)[:length]

    def write(self, register: int, data: list[int]) -> None:
        self._check(register)
        if register == REG_RESOLUTION:
            if len(data) != 1:
                raise ValueError("FakeMCP9808 resolution register is 8 bits")
            self._regs[register] = data[0] & 0b11
            return
        if len(data) != 2:
            raise ValueError(f"FakeMCP9808 registers are 16 bits; got {len(data)} bytes")
        value = data[0] << 8 | data[1]
        if register == REG_CONFIG:
            self._regs[register] = value & CONFIG_WRITABLE
        elif register in (REG_T_UPPER, REG_T_LOWER, REG_T_CRIT):
            self._regs[register] = value & LIMIT_MASK
        # T_A, manufacturer and device ID are read-only; writes are ignored.

    def _sample(self) -> int:
        t = self.temp_c()
        if math.isnan(t):
            raise ValueError("FakeMCP9808 temperature is NaN")
        # 13-bit two's complement, 0.0625 °C LSB: -256.0 .. +255.9375 °C.
        t = max(-256.0, min(255.9375, t))
        sixteenths = math.floor(t * 16 + 0.5)
        # Coarser resolution settings leave the low bits 0 (0.5 °C keeps bits 11..4 only).
        drop = 3 - self._regs[REG_RESOLUTION]
        sixteenths = (sixteenths >> drop) << drop
        raw = sixteenths & 0x1FFF
        flags = 0
        if sixteenths >= _to_13bit_signed(self._regs[REG_T_CRIT]):
            flags |= FLAG_CRIT
        if sixteenths > _to_13bit_signed(self._regs[REG_T_UPPER]):
            flags |= FLAG_UPPER
        if sixteenths < _to_13bit_signed(self._regs[REG_T_LOWER]):
            flags |= FLAG_LOWER
        return flags | raw

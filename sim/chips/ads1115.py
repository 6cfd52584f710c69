"""Register model of the ADS1115 ADC (TI SBAS444), conversions instant.

Independent of drivers/ on purpose: constants are restated from the datasheet here so a
driver bug cannot be mirrored by the model it is tested against.
"""

from __future__ import annotations

import math
from typing import Callable

REG_CONVERSION = 0x00
REG_CONFIG = 0x01
REG_LO_THRESH = 0x02
REG_HI_THRESH = 0x03

CONFIG_RESET = 0x8583  # OS=1, AIN0-AIN1, ±2.048 V, single-shot, 128 SPS, comparator off
OS_BIT = 1 << 15
MODE_SINGLE_SHOT = 1 << 8

# PGA field -> full scale volts (110 and 111 are both ±0.256 V).
FULL_SCALE_V = (6.144, 4.096, 2.048, 1.024, 0.512, 0.256, 0.256, 0.256)
# MUX field -> (positive input, negative input); None = GND.
MUX_INPUTS = (
    (0, 1), (0, 3), (1, 3), (2, 3),
    (0, None), (1, None), (2, None), (3, None),
)  # fmt: skip


class FakeADS1115:
    def __init__(self, volts: Callable[[int], float]) -> None:
        """`volts(channel)` is the voltage on AIN<channel> against GND at the moment of sampling."""
        self.volts = volts
        self._regs = {
            REG_CONVERSION: 0x0000,
            REG_CONFIG: CONFIG_RESET,
            REG_LO_THRESH: 0x8000,
            REG_HI_THRESH: 0x7FFF,
        }
        self.last_config: int | None = None  # last value written to the config register
        self.conversions = 0
        self._stuck = False

    def set_stuck(self, stuck: bool) -> None:
        """Fault: a started conversion never completes (OS keeps reading 0)."""
        self._stuck = stuck

    def _check(self, register: int) -> None:
        if register not in self._regs:
            raise ValueError(f"FakeADS1115 has no register 0x{register:02x} (pointer is 2 bits)")

    def read(self, register: int, length: int) -> list[int]:
        self._check(register)
        config = self._regs[REG_CONFIG]
        if register == REG_CONVERSION and not config & MODE_SINGLE_SHOT:
            self._convert(config)  # continuous mode: always a fresh result
        value = self._regs[register]
        data = [value >> 8, value & 0xFF]
        if length == len(data):
            return data  # the usual whole-register read (every poll)
        # Shorter reads get the MSB only; longer ones 0xFF past the register (bus released).
        return (data + [0xFF] * length)[:length]

    def write(self, register: int, data: list[int]) -> None:
        self._check(register)
        if len(data) != 2:
            raise ValueError(f"FakeADS1115 registers are 16 bits; got {len(data)} bytes")
        value = data[0] << 8 | data[1]
        if register == REG_CONVERSION:
            return  # read-only
        if register != REG_CONFIG:
            self._regs[register] = value
            return
        self.last_config = value
        start = value & OS_BIT and value & MODE_SINGLE_SHOT
        if start and self._stuck:
            self._regs[REG_CONFIG] = value & ~OS_BIT  # converting, forever
            return
        self._regs[REG_CONFIG] = value | OS_BIT  # OS reads 1: not converting
        if start or not value & MODE_SINGLE_SHOT:
            self._convert(value)

    def _convert(self, config: int) -> None:
        positive, negative = MUX_INPUTS[config >> 12 & 0b111]
        fs_v = FULL_SCALE_V[config >> 9 & 0b111]
        v = self.volts(positive) - (self.volts(negative) if negative is not None else 0.0)
        if math.isnan(v):
            raise ValueError(f"FakeADS1115 input voltage is NaN (AIN{positive})")
        if math.isinf(v):
            code = 32767 if v > 0 else -32768
        else:
            code = max(-32768, min(32767, round(v / fs_v * 32768)))
        self._regs[REG_CONVERSION] = code & 0xFFFF
        self.conversions += 1

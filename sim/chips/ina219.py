"""Register model of the INA219 current monitor (TI SBOS448), conversions instant.

The shunt register is the mean of the shunt current over the conversion window the config
asks for (one 532 µs sample, or 2-128 of them averaged), taken at a pseudo-random phase of
the motor's PWM when a ``ripple`` source is given: a motor on 1 kHz PWM draws its current in
pulses, and a single sample lands on a pulse or between two.

Each read samples the plant: the shunt register from current_a() × shunt_ohm, the current and
power registers through the calibration exactly as the chip's arithmetic does (datasheet
equations 4 and 5, integer), so a driver's calibration mistakes show up as wrong amps.
"""

from __future__ import annotations

import math
import random
from typing import Callable

REG_CONFIG = 0x00
REG_SHUNT_VOLTAGE = 0x01
REG_BUS_VOLTAGE = 0x02
REG_POWER = 0x03
REG_CURRENT = 0x04
REG_CALIBRATION = 0x05

CONFIG_RESET_VALUE = 0x399F  # 32 V, ±320 mV, 12-bit, shunt and bus continuous
CONFIG_RST = 1 << 15
CONFIG_BRNG = 1 << 13
SHUNT_LSB_V = 10e-6
BUS_LSB_V = 4e-3
BUS_CNVR = 1 << 1
BUS_OVF = 1 << 0
CALIBRATION_MASK = 0xFFFE  # bit 0 is void


def _quantise(value: float, lsb: float, limit: int) -> int:
    if math.isnan(value):
        raise ValueError("FakeINA219 input is NaN")
    if math.isinf(value):
        return limit if value > 0 else -limit
    return max(-limit, min(limit, round(value / lsb)))


def _trunc_div(a: int, b: int) -> int:
    """Integer division rounding toward zero, as the chip's arithmetic does."""
    q = abs(a) // b
    return q if a >= 0 else -q


class FakeINA219:
    def __init__(
        self,
        current_a: Callable[[], float],
        bus_v: Callable[[], float] = lambda: 12.0,
        shunt_ohm: float = 0.1,
        ripple: Callable[[], tuple[float, float]] | None = None,
    ) -> None:
        self.current_a = current_a
        self.ripple = ripple  # () -> (PWM duty 0..1, PWM frequency Hz) of the load
        self._phase = random.Random(219)
        self.bus_v = bus_v
        self.shunt_ohm = shunt_ohm
        self._config = CONFIG_RESET_VALUE
        self._calibration = 0
        self.resets = 0  # how many brown-outs / software resets

    def reset(self) -> None:
        """Power-on reset, as after a brown-out: default config and calibration 0."""
        self._config = CONFIG_RESET_VALUE
        self._calibration = 0
        self.resets += 1

    # -- conversions ------------------------------------------------------------------------

    def _mode(self) -> int:
        return self._config & 0b111

    def conversion_window_s(self) -> float:
        """The shunt ADC's conversion time for the config's SADC field (datasheet table 5)."""
        sadc = self._config >> 3 & 0b1111
        if sadc & 0b1000 == 0:
            return (84e-6, 148e-6, 276e-6, 532e-6)[sadc & 0b11]
        return 532e-6 * (1 << (sadc & 0b111))  # 0b1000: 1 sample, ... 0b1111: 128 samples

    def _shunt_current_a(self) -> float:
        mean_a = self.current_a()
        if self.ripple is None:
            return mean_a
        duty, pwm_hz = self.ripple()
        if not 0.0 < duty < 1.0 or not pwm_hz > 0:
            return mean_a
        period = 1.0 / pwm_hz
        start = self._phase.random() * period
        window = self.conversion_window_s()

        def on_time(t: float) -> float:  # time the PWM was on in [0, t]
            return math.floor(t / period) * duty * period + min(t % period, duty * period)
        return mean_a / duty * (on_time(start + window) - on_time(start)) / window

    def _shunt_code(self) -> int:
        pga = self._config >> 11 & 0b11
        limit = 4000 << pga  # ±40 mV × 1, 2, 4, 8 in 10 µV steps
        return _quantise(self._shunt_current_a() * self.shunt_ohm, SHUNT_LSB_V, limit)

    def _bus_code(self) -> int:
        full_scale = 8000 if self._config & CONFIG_BRNG else 4000  # 32 V or 16 V, 4 mV steps
        return max(0, _quantise(self.bus_v(), BUS_LSB_V, full_scale))

    def _current_code(self) -> tuple[int, bool]:
        if self._calibration == 0:
            return 0, False  # current and power are only computed once calibrated
        current = _trunc_div(self._shunt_code() * self._calibration, 4096)  # equation 4
        overflow = not -32768 <= current <= 32767
        return max(-32768, min(32767, current)), overflow

    def _register(self, register: int) -> int:
        if not REG_CONFIG <= register <= REG_CALIBRATION:
            raise ValueError(f"FakeINA219 has no register 0x{register:02x}")
        if register == REG_CONFIG:
            return self._config
        if register == REG_CALIBRATION:
            return self._calibration
        if self._mode() in (0b000, 0b100):
            return 0  # powered down / ADC off: a fake simplification (the chip holds old data)
        if register == REG_SHUNT_VOLTAGE:
            return self._shunt_code() & 0xFFFF
        current, overflow = self._current_code()
        if register == REG_CURRENT:
            return current & 0xFFFF
        bus = self._bus_code()
        power = abs(current) * bus // 5000  # equation 5
        if register == REG_POWER:
            return min(power, 0xFFFF)
        overflow = overflow or power > 0xFFFF
        return bus << 3 | BUS_CNVR | (BUS_OVF if overflow else 0)

    # -- the chip model surface -------------------------------------------------------------

    def read(self, register: int, length: int) -> list[int]:
        value = self._register(register)
        data = [value >> 8, value & 0xFF]
        if length == len(data):
            return data  # the usual whole-register read
        return (data + [0xFF] * length)[:length]

    def write(self, register: int, data: list[int]) -> None:
        if len(data) != 2:
            raise ValueError(f"FakeINA219 registers are 16 bits; got {len(data)} bytes")
        value = data[0] << 8 | data[1]
        if register == REG_CONFIG:
            if value & CONFIG_RST:
                self.reset()
            else:
                self._config = value
        elif register == REG_CALIBRATION:
            self._calibration = value & CALIBRATION_MASK
        elif register not in (REG_SHUNT_VOLTAGE, REG_BUS_VOLTAGE, REG_POWER, REG_CURRENT):
            raise ValueError(f"FakeINA219 has no register 0x{register:02x}")
        # The measurement registers are read-only; writes are ignored.

    @property
    def calibration(self) -> int:
        return self._calibration

    @property
    def config(self) -> int:
        return self._config

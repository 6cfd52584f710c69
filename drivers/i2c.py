"""One I2C bus shared by every chip on it, with big-endian register access.

smbus2 is synchronous and not thread-safe per bus object, so every transaction holds one lock.
The ADS1115, MCP9808 and INA219 send register MSB first, while SMBus word transfers are
little-endian, so 16-bit registers go through 2-byte I2C block transfers instead.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, TypeVar

from .errors import BusError

T = TypeVar("T")


def _check_byte(name: str, value: int) -> None:
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{name} {value!r} does not fit in a byte")


class I2CBus:
    """Wraps an smbus2.SMBus-compatible object; every OSError becomes a BusError."""

    def __init__(self, smbus: Any, bus_number: int) -> None:
        self._smbus = smbus
        self.bus_number = bus_number
        self._lock = threading.Lock()

    def _bus_error(self, chip: str, address: int, exc: OSError) -> BusError:
        return BusError(chip, address, self.bus_number, exc.errno)

    def read_u16_be(self, chip: str, address: int, register: int) -> int:
        _check_byte("register", register)
        with self._lock:
            try:
                data = self._smbus.read_i2c_block_data(address, register, 2)
            except OSError as exc:
                raise self._bus_error(chip, address, exc) from exc
        if len(data) != 2:
            reason = f"short read ({len(data)} of 2 bytes)"
            raise BusError(chip, address, self.bus_number, None, reason)
        return (data[0] << 8) | data[1]

    def write_u16_be(self, chip: str, address: int, register: int, value: int) -> None:
        _check_byte("register", register)
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"value {value!r} does not fit in 16 bits")
        payload = [(value >> 8) & 0xFF, value & 0xFF]
        with self._lock:
            try:
                self._smbus.write_i2c_block_data(address, register, payload)
            except OSError as exc:
                raise self._bus_error(chip, address, exc) from exc

    def read_u8(self, chip: str, address: int, register: int) -> int:
        _check_byte("register", register)
        with self._lock:
            try:
                return self._smbus.read_byte_data(address, register)
            except OSError as exc:
                raise self._bus_error(chip, address, exc) from exc

    def write_u8(self, chip: str, address: int, register: int, value: int) -> None:
        _check_byte("register", register)
        _check_byte("value", value)
        with self._lock:
            try:
                self._smbus.write_byte_data(address, register, value)
            except OSError as exc:
                raise self._bus_error(chip, address, exc) from exc

    def recover(self, clear: Callable[[], T]) -> T:
        """Run a bus recovery (``drivers.bus_recovery.clear_bus`` on this bus's pins) holding
        the bus: no transfer may start while its pins are plain GPIO."""
        with self._lock:
            return clear()

    def close(self) -> None:
        with self._lock:
            self._smbus.close()

    def __enter__(self) -> "I2CBus":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

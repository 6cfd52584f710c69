"""An smbus2.SMBus stand-in that routes transactions to register-level chip models.

A chip model has read(register, length) -> list[int] and write(register, data). Faults are
injected here, at the bus, where Linux reports them: a missing chip NACKs (EREMOTEIO) and a
hung bus times out (ETIMEDOUT) after the adapter's timeout, which the simulation spends on its
virtual clock through the stall callback instead of sleeping.
"""

from __future__ import annotations

import errno
import os
import threading
from typing import Callable, Protocol

EREMOTEIO = getattr(errno, "EREMOTEIO", 121)
ETIMEDOUT = errno.ETIMEDOUT
EBADF = errno.EBADF
_SMBUS_BLOCK_MAX = 32  # I2C_SMBUS_BLOCK_MAX: smbus2 refuses longer block transfers


class Chip(Protocol):
    def read(self, register: int, length: int) -> list[int]: ...

    def write(self, register: int, data: list[int]) -> None: ...


def _oserror(code: int) -> OSError:
    return OSError(code, os.strerror(code))


class FakeSMBus:
    def __init__(self, bus_number: int = 1) -> None:
        self.bus_number = bus_number
        self._chips: dict[int, Chip] = {}
        self._missing: set[int] = set()
        self._hung = False
        self._stall: Callable[[float], None] | None = None
        self._stall_s = 0.5
        self._closed = False
        self._lock = threading.RLock()
        self.transactions = 0  # every attempted transfer, failed ones included
        self.writes = 0  # attempted write transfers

    # -- wiring and faults ------------------------------------------------------------------

    def attach(self, address: int, chip: Chip) -> None:
        if not 0x03 <= address <= 0x77:
            raise ValueError(f"0x{address:02x} is not a 7-bit I2C device address")
        with self._lock:
            if address in self._chips:
                raise ValueError(f"an I2C chip is already attached at 0x{address:02x}")
            self._chips[address] = chip

    def set_missing(self, address: int, missing: bool = True) -> None:
        """The chip at `address` stops answering (unplugged, dead, or lost its supply)."""
        with self._lock:
            if missing:
                self._missing.add(address)
            else:
                self._missing.discard(address)

    def set_hang(
        self,
        hung: bool,
        stall: Callable[[float], None] | None = None,
        stall_s: float = 0.5,
    ) -> None:
        """Every transfer stalls for stall_s (via `stall`, e.g. a virtual clock) then times out."""
        with self._lock:
            self._hung = hung
            self._stall = stall
            self._stall_s = stall_s

    # -- the smbus2 surface ----------------------------------------------------------------

    def _chip(self, address: int, *, write: bool) -> Chip:
        self.transactions += 1
        if write:
            self.writes += 1
        if self._closed:
            raise _oserror(EBADF)
        if self._hung:
            if self._stall is not None:
                self._stall(self._stall_s)
            raise _oserror(ETIMEDOUT)
        chip = self._chips.get(address)
        if chip is None or address in self._missing:
            raise _oserror(EREMOTEIO)
        return chip

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]:
        if not 1 <= length <= _SMBUS_BLOCK_MAX:
            raise ValueError(f"Desired block length over {_SMBUS_BLOCK_MAX} bytes")
        with self._lock:
            data = list(self._chip(i2c_addr, write=False).read(register, length))
        if len(data) != length or any(not 0 <= b <= 0xFF for b in data):
            raise AssertionError(f"chip model at 0x{i2c_addr:02x} returned {data!r}")
        return data

    def write_i2c_block_data(
        self, i2c_addr: int, register: int, data: list[int], force: bool | None = None
    ) -> None:
        if len(data) > _SMBUS_BLOCK_MAX:
            raise ValueError(f"Data length cannot exceed {_SMBUS_BLOCK_MAX} bytes")
        if any(not 0 <= b <= 0xFF for b in data):
            raise ValueError(f"I2C data bytes out of range: {list(data)!r}")
        with self._lock:
            self._chip(i2c_addr, write=True).write(register, list(data))

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        return self.read_i2c_block_data(i2c_addr, register, 1)[0]

    def write_byte_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None:
        self.write_i2c_block_data(i2c_addr, register, [value])

    def close(self) -> None:
        with self._lock:
            self._closed = True

    def __enter__(self) -> "FakeSMBus":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Driver errors that say which chip failed, where, and why, in words a technician can act on."""

from __future__ import annotations

import os

# Linux errno values an I2C adapter reports (smbus2 raises them as OSError).
_EIO = 5  # bus error: arbitration lost, SDA/SCL stuck, glitch
_ETIMEDOUT = 110  # the adapter gave up waiting (clock stretched forever, bus hung)
_EREMOTEIO = 121  # no ACK to our address: the chip is missing, unpowered or at another address

_REASONS = {
    _EREMOTEIO: "no answer (chip missing or NACK)",
    _EIO: "bus error",
    _ETIMEDOUT: "bus timeout",
}


def describe_errno(errno: int | None) -> str:
    if errno is None:
        return "I/O error"
    if errno in _REASONS:
        return _REASONS[errno]
    return os.strerror(errno).lower()


class DriverError(Exception):
    """Any failure of a hardware driver (bus, wrong chip, chip misbehaving)."""


class BusError(DriverError):
    """An I2C transaction with one chip failed.

    Carries the chip's name, address and bus so a fault log line is enough to find the part.
    """

    def __init__(
        self,
        chip: str,
        address: int,
        bus: int,
        errno: int | None = None,
        reason: str | None = None,
    ) -> None:
        # args mirror the signature so the exception pickles (process pools, logging handlers).
        super().__init__(chip, address, bus, errno, reason)
        self.chip = chip
        self.address = address
        self.bus = bus
        self.errno = errno
        self.reason = reason if reason is not None else describe_errno(errno)

    def __str__(self) -> str:
        text = f"{self.chip} at 0x{self.address:02x} on i2c-{self.bus}: {self.reason}"
        if self.errno is not None:
            text += f" [errno {self.errno}]"
        return text


class ConversionTimeout(BusError):
    """The ADS1115 never signalled conversion ready (OS bit stayed 0): the chip is wedged."""

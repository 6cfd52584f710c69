"""Driver errors that say which chip failed, where, and why, in words a technician can act on."""

from __future__ import annotations

import os

# Linux errno values an I2C adapter reports (smbus2 raises them as OSError). Which one a hung
# bus gives depends on the Pi: i2c-bcm2835 (Pi 4) returns EIO after its 35 ms clock-stretch
# timeout and ETIMEDOUT only after the 1 s adapter timeout; the Pi 5's RP1 (designware)
# returns ETIMEDOUT or EAGAIN. A NACK (EREMOTEIO) is one missing chip, not a hung bus.
_EIO = 5  # bus error: arbitration lost, SDA/SCL stuck, clock stretched past 35 ms (Pi 4)
_EAGAIN = 11  # RP1: arbitration lost / bus busy
_ETIMEDOUT = 110  # the adapter gave up waiting (clock stretched forever, bus hung)
_EREMOTEIO = 121  # no ACK to our address: the chip is missing, unpowered or at another address

#: the errnos of a bus that is hung or stuck, not of one chip: every later transfer will wait too
HANG_ERRNOS = frozenset({_EIO, _EAGAIN, _ETIMEDOUT})

_REASONS = {
    _EREMOTEIO: "no answer (chip missing or NACK)",
    _EIO: "bus error",
    _EAGAIN: "bus busy (arbitration lost)",
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
    """The ADS1115 never signalled conversion ready (OS bit stayed 0): the chip is wedged, or
    SDA is held low and every register reads 0."""


class StuckBusReading(BusError):
    """A register read all zeros or all ones where a live chip cannot give them: a chip holding
    SDA low makes every read return zeros (no error from the adapter), a floating bus ones."""


class ExpanderReset(DriverError):
    """The I/O expander's registers are not what we wrote: it reset (brown-out, glitch) and
    every valve it drives went limp."""


def is_bus_hang(err: BaseException) -> bool:
    """A failure that every later transfer on the bus would repeat (and wait for)."""
    return isinstance(err, (ConversionTimeout, StuckBusReading)) or (
        isinstance(err, BusError) and err.errno in HANG_ERRNOS)

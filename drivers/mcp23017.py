"""MCP23017 16-bit I/O expander (Microchip DS20001952): valves and panel LEDs.

Outputs are written to the OLAT registers, never GPIO: OLAT is what we commanded, GPIO is what
the pins read back, and a read-modify-write through GPIO could latch a pin's loaded-down level.
Pin n is port A bit n for n < 8, port B bit n-8 otherwise.

A reset of the chip (brown-out, a glitch on RESET) returns every pin to an input: the valves go
limp and the cached latch no longer says what the pins do, and ``flush()``, which writes only
changed bytes, would never notice. So IOCON is written at start (a reset or a stray write may
have left BANK = 1, which moves every register), and ``verify()`` reads the direction and latch
registers back (the board does so once a second): a mismatch is an ``ExpanderReset``.
"""

from __future__ import annotations

import threading
from typing import Iterable

from .errors import BusError, ExpanderReset
from .i2c import I2CBus

CHIP = "MCP23017"

# Register addresses with IOCON.BANK = 0, the power-on default (datasheet table 3-5).
REG_IODIRA = 0x00  # 1 = input (power-on 0xFF: every pin an input, every valve unpowered)
REG_IODIRB = 0x01
REG_IOCON = 0x0A  # BANK = 0 address (0x0B mirrors it)
REG_IOCON_IF_BANK1 = 0x05  # where IOCON sits if BANK = 1; with BANK = 0 it is GPINTENB (0: no interrupts)
IOCON_VALUE = 0x00  # BANK 0, sequential addressing, no interrupt mirroring: the power-on value
REG_GPIOA = 0x12
REG_GPIOB = 0x13
REG_OLATA = 0x14
REG_OLATB = 0x15

_OLAT = (REG_OLATA, REG_OLATB)
_IODIR = (REG_IODIRA, REG_IODIRB)


def _check_pin(pin: int) -> None:
    if isinstance(pin, bool) or not isinstance(pin, int) or not 0 <= pin <= 15:
        raise ValueError(f"MCP23017 pin {pin!r} is not 0..15")


class MCP23017:
    def __init__(self, bus: I2CBus, address: int) -> None:
        self._bus = bus
        self.address = address
        self._latch = 0  # what we want on the pins
        self._written: list[int | None] = [None, None]  # per port, last byte the chip accepted
        self._lock = threading.Lock()
        self._iodir: int | None = None  # the direction we configured (None: not yet)

    def configure_outputs(self, pins: Iterable[int]) -> None:
        """Make `pins` outputs, driven low; every other pin an input."""
        iodir = 0xFFFF
        for pin in pins:
            _check_pin(pin)
            iodir &= ~(1 << pin)
        with self._lock:
            # BANK back to 0 first: with BANK = 1 the IOCON address is 0x05 (and 0x0A is OLATA,
            # to which writing 0 is harmless); with BANK = 0, 0x05 is GPINTENB, also 0 here.
            self._bus.write_u8(CHIP, self.address, REG_IOCON_IF_BANK1, IOCON_VALUE)
            self._bus.write_u8(CHIP, self.address, REG_IOCON, IOCON_VALUE)
            # Latch low before switching direction, so no pin shows a stale high for a moment.
            for port in (0, 1):
                self._bus.write_u8(CHIP, self.address, _OLAT[port], 0x00)
                self._written[port] = 0x00
            self._latch = 0
            for port in (0, 1):
                self._bus.write_u8(CHIP, self.address, _IODIR[port], (iodir >> 8 * port) & 0xFF)
            self._iodir = iodir

    def set_pin(self, pin: int, value: bool) -> None:
        """Change the cached latch; the chip sees it at the next flush()."""
        _check_pin(pin)
        with self._lock:
            if value:
                self._latch |= 1 << pin
            else:
                self._latch &= ~(1 << pin)

    def pin(self, pin: int) -> bool:
        _check_pin(pin)
        return bool(self._latch >> pin & 1)

    def flush(self) -> None:
        """Write the ports whose byte changed since the last successful write (≤ 2 writes).

        Both ports are tried even if one fails, so a glitch on one port cannot hold back a
        vent command on the other; the first error is raised after.
        """
        first_error: BusError | None = None
        with self._lock:
            for port in (0, 1):
                byte = (self._latch >> 8 * port) & 0xFF
                if byte == self._written[port]:
                    continue
                try:
                    self._bus.write_u8(CHIP, self.address, _OLAT[port], byte)
                except BusError as exc:
                    self._written[port] = None  # unknown now: rewrite next time
                    first_error = first_error or exc
                else:
                    self._written[port] = byte
        if first_error is not None:
            raise first_error

    def verify(self) -> None:
        """Read IODIR and OLAT back (4 reads); ``ExpanderReset`` if they are not what we wrote."""
        with self._lock:
            iodir, written = self._iodir, list(self._written)
        if iodir is None:
            raise ExpanderReset(f"{CHIP} at 0x{self.address:02x} was never configured")
        got_iodir = self._bus.read_u8(CHIP, self.address, REG_IODIRB) << 8 | self._bus.read_u8(
            CHIP, self.address, REG_IODIRA)
        got_latch = self.read_latch()
        wrong = []
        if got_iodir != iodir:
            wrong.append(f"IODIR 0x{got_iodir:04x}, wrote 0x{iodir:04x}")
        for port, byte in enumerate(written):
            got = got_latch >> 8 * port & 0xFF
            if byte is not None and got != byte:
                wrong.append(f"OLAT{'AB'[port]} 0x{got:02x}, wrote 0x{byte:02x}")
        if wrong:
            raise ExpanderReset(f"{CHIP} at 0x{self.address:02x} on i2c-{self._bus.bus_number} "
                                f"lost its settings (reset?): {'; '.join(wrong)}")

    def read_latch(self) -> int:
        """Both OLAT registers as the chip holds them (A low byte): to verify what it got."""
        low = self._bus.read_u8(CHIP, self.address, REG_OLATA)
        high = self._bus.read_u8(CHIP, self.address, REG_OLATB)
        return high << 8 | low

"""An smbus2.SMBus stand-in that routes transactions to register-level chip models.

A chip model has read(register, length) -> list[int] and write(register, data). Faults are
injected here, at the bus, where Linux reports them: a missing chip NACKs (EREMOTEIO); a hung
bus fails each transfer the way the Pi's adapter does, after its timeout (``HANGS``); a chip
holding SDA low makes every read return zeros and every write look acknowledged (SDA low is an
ACK), with no error at all. The hang's time is spent through the stall callback: on a virtual
clock, or by blocking the calling thread as the kernel would (see sim/machine.py).
"""

from __future__ import annotations

import errno
import os
import threading
from typing import Callable, NamedTuple, NoReturn, Protocol

EREMOTEIO = getattr(errno, "EREMOTEIO", 121)
ETIMEDOUT = errno.ETIMEDOUT
EIO = errno.EIO
EAGAIN = errno.EAGAIN
EBADF = errno.EBADF

#: How a hung bus fails a transfer on each Pi: (errno, seconds the transfer takes to fail).
#: i2c-bcm2835 (Pi 4): EIO when a clock stretch passes the driver's 35 ms clock-stretch
#: timeout, ETIMEDOUT when the 1 s adapter timeout runs out first; RP1's designware (Pi 5):
#: ETIMEDOUT after 1 s, or EAGAIN (taken as the same 1 s: the worst case).
HANGS: dict[str, tuple[int, float]] = {
    "pi4_adapter_timeout": (ETIMEDOUT, 1.0),
    "pi4_clock_stretch": (EIO, 0.035),
    "pi5_timeout": (ETIMEDOUT, 1.0),
    "pi5_busy": (EAGAIN, 1.0),
}
_SMBUS_BLOCK_MAX = 32  # I2C_SMBUS_BLOCK_MAX: smbus2 refuses longer block transfers


class Transfer(NamedTuple):
    """One attempted transfer as it went over the wire, for the timing model (sim/bus_timing.py):
    the register pointer is sent first in both directions (a read is write-pointer, repeated
    START, read), ``data`` is what was written or read back; ``acked`` False: no chip answered
    the address (a NACK or an error before any data byte)."""

    address: int
    write: bool
    register: int
    data: tuple[int, ...]
    acked: bool = True


class Chip(Protocol):
    def read(self, register: int, length: int) -> list[int]: ...

    def write(self, register: int, data: list[int]) -> None: ...


def _oserror(code: int) -> OSError:
    return OSError(code, os.strerror(code))


class FakeSMBus:
    """The transfer methods run some 25 times per scan tick, so a healthy transfer checks
    faults with one lookup and one flag (``_answering``, ``_blocked``, kept current by the
    wiring and fault methods); the rarer paths stay in ``_refuse``. Together with the chip
    models' whole-register reads this saves ~15 % of a ``--speed 0`` scan tick (bench speed)."""

    def __init__(self, bus_number: int = 1) -> None:
        self.bus_number = bus_number
        self._chips: dict[int, Chip] = {}
        self._missing: set[int] = set()
        # The chips that answer (attached and not missing), and whether every transfer fails
        # (closed or hung): the one lookup and one flag a healthy transfer checks.
        self._answering: dict[int, Chip] = {}
        self._blocked = False
        self._hung = False
        self._hang_errno = ETIMEDOUT
        self._sda_low = False
        self._sda_release_after: int | None = None  # clocks the stuck slave still wants (None: never lets go)
        self._pins_gpio = False  # SDA/SCL taken from the controller for a recovery
        self.recoveries = 0  # bus clears attempted (to_gpio calls)
        self._stall: Callable[[float], None] | None = None
        self._stall_s = 0.5
        self._closed = False
        self._lock = threading.RLock()
        self.transactions = 0  # every attempted transfer, failed ones included
        self.writes = 0  # attempted write transfers
        #: every attempted transfer while recording (``record_transfers``), else None: the bus
        #: time a tick costs on a Pi is computed from it (sim/bus_timing.py)
        self.log: list[Transfer] | None = None

    # -- wiring and faults ------------------------------------------------------------------

    def attach(self, address: int, chip: Chip) -> None:
        if not 0x03 <= address <= 0x77:
            raise ValueError(f"0x{address:02x} is not a 7-bit I2C device address")
        with self._lock:
            if address in self._chips:
                raise ValueError(f"an I2C chip is already attached at 0x{address:02x}")
            self._chips[address] = chip
            if address not in self._missing:
                self._answering[address] = chip

    def set_missing(self, address: int, missing: bool = True) -> None:
        """The chip at `address` stops answering (unplugged, dead, or lost its supply)."""
        with self._lock:
            if missing:
                self._missing.add(address)
                self._answering.pop(address, None)
            else:
                self._missing.discard(address)
                if address in self._chips:
                    self._answering[address] = self._chips[address]

    def set_hang(
        self,
        hung: bool,
        stall: Callable[[float], None] | None = None,
        stall_s: float = 0.5,
        errno_code: int = ETIMEDOUT,
    ) -> None:
        """Every transfer stalls for stall_s (via `stall`) then fails with `errno_code`."""
        with self._lock:
            self._hung = hung
            self._stall = stall
            self._stall_s = stall_s
            self._hang_errno = errno_code
            self._blocked = self._closed or hung or self._sda_low or self._pins_gpio

    def set_hang_kind(self, kind: str, stall: Callable[[float], None] | None = None) -> None:
        """A hang as one Pi's adapter reports it (a key of ``HANGS``)."""
        code, seconds = HANGS[kind]
        self.set_hang(True, stall=stall, stall_s=seconds, errno_code=code)

    def set_sda_stuck_low(self, stuck: bool, release_after_clocks: int | None = None) -> None:
        """A chip holds SDA low: reads return zeros, writes look acknowledged, nothing fails.
        ``release_after_clocks``: it is in the middle of a byte and lets SDA go after that many
        more SCL clocks (1-9: the rest of 8 bits and an ACK, UM10204 §3.1.16); None: it never
        does (a dead chip, a short on the cable), and only a power cycle frees the bus."""
        if release_after_clocks is not None and not 1 <= release_after_clocks <= 9:
            raise ValueError(f"a slave mid-byte lets SDA go within 9 clocks, not {release_after_clocks!r}")
        with self._lock:
            self._sda_low = stuck
            self._sda_release_after = release_after_clocks if stuck else None
            self._blocked = self._closed or self._hung or stuck or self._pins_gpio

    def recovery_pins(self) -> "RecoveryPins":
        """SDA and SCL as plain GPIO, for the nine-clock bus clear (drivers/bus_recovery.py)."""
        return RecoveryPins(self)

    def record_transfers(self, on: bool = True) -> None:
        """Start (a fresh, empty log) or stop keeping the transaction log."""
        with self._lock:
            self.log = [] if on else None

    def take_transfers(self) -> list[Transfer]:
        """The transfers logged since the last call (and empties the log); [] when not recording."""
        with self._lock:
            if self.log is None:
                return []
            taken, self.log = self.log, []
            return taken

    # -- the smbus2 surface ----------------------------------------------------------------

    def _refuse(self, address: int) -> NoReturn:
        """Raise the error of a transfer that cannot complete, in the order Linux reports
        them: a closed file, then a hung bus (after its timeout), then no ACK."""
        if self._closed:
            raise _oserror(EBADF)
        if self._pins_gpio:
            raise _oserror(EIO)  # the controller's pins are plain GPIO: it cannot drive the bus
        if self._hung:
            if self._stall is not None:
                self._stall(self._stall_s)
            raise _oserror(self._hang_errno)
        raise _oserror(EREMOTEIO)

    def _logged(self, address: int, write: bool, register: int, data: tuple[int, ...], acked: bool = True) -> None:
        if self.log is not None:
            self.log.append(Transfer(address, write, register, data, acked))

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]:
        if not 1 <= length <= _SMBUS_BLOCK_MAX:
            raise ValueError(f"Desired block length over {_SMBUS_BLOCK_MAX} bytes")
        with self._lock:
            self.transactions += 1
            chip = self._answering.get(i2c_addr)
            if chip is None or self._blocked:
                if self._sda_low and not (self._closed or self._hung or self._pins_gpio):
                    self._logged(i2c_addr, False, register, (0x00,) * length)
                    return [0x00] * length  # every bit read is the low SDA
                self._logged(i2c_addr, False, register, (), acked=False)
                self._refuse(i2c_addr)
            data = list(chip.read(register, length))
            if self.log is not None:
                self.log.append(Transfer(i2c_addr, False, register, tuple(data)))
        if len(data) != length:
            raise AssertionError(f"chip model at 0x{i2c_addr:02x} returned {data!r}")
        for byte in data:  # a plain loop: any(genexpr) costs twice as much for 1 or 2 bytes
            if not 0 <= byte <= 0xFF:
                raise AssertionError(f"chip model at 0x{i2c_addr:02x} returned {data!r}")
        return data

    def write_i2c_block_data(
        self, i2c_addr: int, register: int, data: list[int], force: bool | None = None
    ) -> None:
        if len(data) > _SMBUS_BLOCK_MAX:
            raise ValueError(f"Data length cannot exceed {_SMBUS_BLOCK_MAX} bytes")
        for byte in data:
            if not 0 <= byte <= 0xFF:
                raise ValueError(f"I2C data bytes out of range: {list(data)!r}")
        with self._lock:
            self.transactions += 1
            self.writes += 1
            chip = self._answering.get(i2c_addr)
            if chip is None or self._blocked:
                if self._sda_low and not (self._closed or self._hung or self._pins_gpio):
                    self._logged(i2c_addr, True, register, tuple(data))
                    return  # every ACK bit reads low: the write looks accepted, and is lost
                self._logged(i2c_addr, True, register, (), acked=False)
                self._refuse(i2c_addr)
            if self.log is not None:
                self.log.append(Transfer(i2c_addr, True, register, tuple(data)))
            chip.write(register, list(data))

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        return self.read_i2c_block_data(i2c_addr, register, 1)[0]

    def write_byte_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None:
        self.write_i2c_block_data(i2c_addr, register, [value])

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._blocked = True

    # -- the recovery pins (driven by RecoveryPins) -----------------------------------------

    def _set_pins_gpio(self, gpio: bool) -> None:
        with self._lock:
            self._pins_gpio = gpio
            self._blocked = self._closed or self._hung or self._sda_low or gpio

    def _clocked(self) -> None:
        """One SCL pulse: a slave mid-byte shifts out one more bit, and lets go when done."""
        with self._lock:
            if self._sda_low and self._sda_release_after is not None:
                self._sda_release_after -= 1
                if self._sda_release_after == 0:
                    self._sda_low = False
                    self._sda_release_after = None
                    self._blocked = self._closed or self._hung or self._pins_gpio


class RecoveryPins:
    """The fake bus's SDA and SCL as plain GPIO (the driver's ``RecoveryPins``): a clock
    counts only while the pins are taken from the controller, and only a falling then rising
    SCL (a pulse); SDA reads low while a slave holds it."""

    def __init__(self, bus: FakeSMBus) -> None:
        self._bus = bus
        self._gpio = False
        self._scl_high = True
        self._sda_driven_low = False
        self.clocks = 0  # pulses seen in GPIO mode, over all recoveries

    def _need_gpio(self) -> None:
        if not self._gpio:
            raise RuntimeError("SDA/SCL used as GPIO while the I2C controller owns them")

    def to_gpio(self) -> None:
        self._gpio, self._scl_high, self._sda_driven_low = True, True, False
        self._bus.recoveries += 1
        self._bus._set_pins_gpio(True)

    def scl(self, high: bool) -> None:
        self._need_gpio()
        if high and not self._scl_high:
            self.clocks += 1
            self._bus._clocked()
        self._scl_high = high

    def sda(self, high: bool) -> None:
        self._need_gpio()
        self._sda_driven_low = not high

    def sda_is_high(self) -> bool:
        self._need_gpio()
        return not (self._sda_driven_low or self._bus._sda_low)

    def to_i2c(self) -> None:
        self._gpio = False
        self._bus._set_pins_gpio(False)

    def __enter__(self) -> "FakeSMBus":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

"""Register model of the MCP23017 I/O expander (Microchip DS20001952), IOCON.BANK = 0 only.

Block transfers follow the chip's address pointer: with IOCON.SEQOP = 0 (power-on) it
increments after each byte and wraps after 0x15; with SEQOP = 1 it toggles within the A/B pair.
"""

from __future__ import annotations

from typing import Callable

REG_IODIRA = 0x00
REG_IODIRB = 0x01
REG_IPOLA = 0x02
REG_IPOLB = 0x03
REG_IOCON = 0x0A  # also at 0x0B
REG_IOCON_ALT = 0x0B
REG_INTFA = 0x0E
REG_INTFB = 0x0F
REG_INTCAPA = 0x10
REG_INTCAPB = 0x11
REG_GPIOA = 0x12
REG_GPIOB = 0x13
REG_OLATA = 0x14
REG_OLATB = 0x15
_LAST_REGISTER = REG_OLATB

IOCON_BANK = 1 << 7
IOCON_SEQOP = 1 << 5
_READ_ONLY = (REG_INTFA, REG_INTFB, REG_INTCAPA, REG_INTCAPB)


class FakeMCP23017:
    def __init__(self) -> None:
        self.reset()
        self.input_levels = 0x0000  # what the outside world drives on input pins (A low byte)
        # Called around every latch or direction change: see write().
        self.on_write: Callable[[], None] | None = None

    def reset(self) -> None:
        """Power-on reset (datasheet 1.6): every register 0 but IODIR, every pin an input."""
        if getattr(self, "on_write", None) is not None:
            self.on_write()
        self._regs = [0x00] * (_LAST_REGISTER + 1)
        self._regs[REG_IODIRA] = 0xFF  # power-on: all inputs
        self._regs[REG_IODIRB] = 0xFF

    # -- what the simulator looks at --------------------------------------------------------

    @property
    def latch(self) -> int:
        return self._regs[REG_OLATB] << 8 | self._regs[REG_OLATA]

    @property
    def iodir(self) -> int:
        return self._regs[REG_IODIRB] << 8 | self._regs[REG_IODIRA]

    @property
    def driven_pins(self) -> int:
        """Bit n set: pin n is an output latched high (pin_out for all 16 pins at once)."""
        regs = self._regs
        iodir = regs[REG_IODIRB] << 8 | regs[REG_IODIRA]
        latch = regs[REG_OLATB] << 8 | regs[REG_OLATA]
        return ~iodir & latch

    def pin_out(self, pin: int) -> bool:
        """True only if `pin` is an output and latched high (an input pin drives nothing)."""
        if not 0 <= pin <= 15:
            raise ValueError(f"MCP23017 pin {pin!r} is not 0..15")
        return bool((~self.iodir & self.latch) >> pin & 1)

    # -- the chip model surface -------------------------------------------------------------

    def _next(self, regs: list[int], register: int) -> int:
        if regs[REG_IOCON] & IOCON_SEQOP:
            return register ^ 1  # byte mode: toggle within the A/B pair
        return 0 if register == _LAST_REGISTER else register + 1

    def _check(self, register: int) -> None:
        if not 0 <= register <= _LAST_REGISTER:
            raise ValueError(f"FakeMCP23017 has no register 0x{register:02x}")

    def _read_register(self, register: int) -> int:
        if register in (REG_GPIOA, REG_GPIOB):
            port = register - REG_GPIOA
            iodir = self._regs[REG_IODIRA + port]
            inputs = (self.input_levels >> 8 * port & 0xFF) ^ self._regs[REG_IPOLA + port]
            return (self._regs[REG_OLATA + port] & ~iodir | inputs & iodir) & 0xFF
        return self._regs[register]

    def read(self, register: int, length: int) -> list[int]:
        self._check(register)
        data = []
        for _ in range(length):
            data.append(self._read_register(register))
            register = self._next(self._regs, register)
        return data

    def write(self, register: int, data: list[int]) -> None:
        """Apply a write; if it changes the latch or a direction, call on_write() just before
        (so a simulator integrates up to now with the outputs that held until now) and again
        just after (so it sees the new outputs)."""
        self._check(register)
        regs = list(self._regs)
        for byte in data:
            self._write_register(regs, register, byte)
            register = self._next(regs, register)
        outputs = (REG_IODIRA, REG_IODIRB, REG_OLATA, REG_OLATB)
        changed = any(regs[r] != self._regs[r] for r in outputs)
        if changed and self.on_write is not None:
            self.on_write()
        self._regs = regs
        if changed and self.on_write is not None:
            self.on_write()

    @staticmethod
    def _write_register(regs: list[int], register: int, value: int) -> None:
        if register in (REG_IOCON, REG_IOCON_ALT):
            if value & IOCON_BANK:
                raise NotImplementedError("FakeMCP23017 models IOCON.BANK = 0 only")
            regs[REG_IOCON] = regs[REG_IOCON_ALT] = value
        elif register in (REG_GPIOA, REG_GPIOB):
            regs[register + 2] = value  # writing GPIO writes OLAT
        elif register not in _READ_ONLY:
            regs[register] = value

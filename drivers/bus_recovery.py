"""Nine-clock I2C bus recovery: the I2C specification's remedy for a slave holding SDA low.

A slave that lost count of the clocks (a glitch on a long sleeve cable, a reset of the master
mid-transfer) may sit in the middle of a byte it is sending, holding SDA low until it gets the
clocks it still expects. Every transfer then reads zeros and every write looks acknowledged
(SDA low is an ACK), with no error from the adapter. NXP UM10204 §3.1.16 ("Bus clear"): the
master sends up to nine clock pulses on SCL, which walks the slave through the rest of its byte
(8 bits and the ACK) until it lets SDA go, then a STOP, which resets every slave's state.

On a Pi the I2C controller owns GPIO 2/3 (ALT0) and cannot be told to clock on its own, and
gpiozero cannot switch a pin's ALT function; so the pins are taken over as plain GPIO for the
recovery and given back to ALT0 after, through the small ``RecoveryPins`` interface (open-drain
emulated: "high" is a released pin the bus's pull-ups pull high, "low" an output driving low).
On a Pi, ``PinctrlPins`` does it with Raspberry Pi OS's ``pinctrl`` (raspi-utils), which sets
the function and level registers directly; the simulator's fake bus offers the same interface
with a slave that lets go after a number of clocks (sim/i2c_bus.py). The caller must hold the
bus (``I2CBus.recover``): no transfer may start while the pins are not the controller's.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from typing import Callable, Protocol

MAX_CLOCKS = 9  # 8 data bits the slave may still be sending + its ACK (UM10204 §3.1.16)
HALF_PERIOD_S = 5e-6  # 100 kHz clock: standard mode, which every chip on the bus accepts


class RecoveryPins(Protocol):
    def to_gpio(self) -> None:
        """Take SDA and SCL from the I2C controller as plain GPIO, both released (high)."""

    def scl(self, high: bool) -> None:
        """Release SCL (high) or drive it low."""

    def sda(self, high: bool) -> None:
        """Release SDA (high) or drive it low (for the STOP)."""

    def sda_is_high(self) -> bool:
        """SDA's level: high once no slave holds it low."""

    def to_i2c(self) -> None:
        """Give both pins back to the I2C controller (ALT0 on a Pi)."""


@dataclass(frozen=True)
class RecoveryResult:
    released: bool  # SDA high after the clocks and the STOP: the bus is free again
    clocks: int  # clock pulses sent (0: SDA was already high)

    def describe(self) -> str:
        if self.released:
            return f"SDA released after {self.clocks} clock{'s' if self.clocks != 1 else ''} and a STOP"
        return f"SDA still held low after {self.clocks} clocks: a chip or the wiring holds it (power-cycle the bus)"


def clear_bus(pins: RecoveryPins, *, max_clocks: int = MAX_CLOCKS, half_period_s: float = HALF_PERIOD_S,
              sleep: Callable[[float], None] = time.sleep) -> RecoveryResult:
    """Clock SCL until SDA reads high (at most ``max_clocks`` times), send a STOP, and give the
    pins back to the controller, whatever happens in between."""
    pins.to_gpio()
    try:
        clocks = 0
        while not pins.sda_is_high() and clocks < max_clocks:
            pins.scl(False)
            sleep(half_period_s)
            pins.scl(True)
            sleep(half_period_s)
            clocks += 1
        # STOP: SDA rises while SCL is high (SCL low, SDA low, SCL high, SDA high)
        pins.scl(False)
        pins.sda(False)
        sleep(half_period_s)
        pins.scl(True)
        sleep(half_period_s)
        pins.sda(True)
        sleep(half_period_s)
        released = pins.sda_is_high()
    finally:
        pins.to_i2c()
    return RecoveryResult(released, clocks)


class PinctrlPins:
    """GPIO 2/3 (I2C bus 1) through ``pinctrl`` on a Pi (run as the service's user in the gpio
    group: /dev/gpiomem). ``pinctrl set N op dl`` drives low, ``ip pn`` releases (the board's
    pull-ups), ``lev N`` reads the level, ``a0`` gives the pin back to the I2C controller. One
    process per step, ~2-5 ms each: a recovery takes ~0.1-0.2 s of the I/O thread, rare (at
    most once a second, only on a stuck bus) and on a bus that is failing anyway."""

    def __init__(self, sda_gpio: int = 2, scl_gpio: int = 3,
                 run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> None:
        self.sda_gpio = sda_gpio
        self.scl_gpio = scl_gpio
        self._run = run

    def _pinctrl(self, *args: str) -> str:
        done = self._run(["pinctrl", *args], check=True, capture_output=True, text=True, timeout=2.0)
        return done.stdout

    def _level(self, gpio: int, high: bool) -> None:
        if high:
            self._pinctrl("set", str(gpio), "ip", "pn")
        else:
            self._pinctrl("set", str(gpio), "op", "dl")

    def to_gpio(self) -> None:
        self._pinctrl("set", f"{self.sda_gpio},{self.scl_gpio}", "ip", "pn")

    def scl(self, high: bool) -> None:
        self._level(self.scl_gpio, high)

    def sda(self, high: bool) -> None:
        self._level(self.sda_gpio, high)

    def sda_is_high(self) -> bool:
        return self._pinctrl("lev", str(self.sda_gpio)).strip().endswith("1")

    def to_i2c(self) -> None:
        self._pinctrl("set", f"{self.sda_gpio},{self.scl_gpio}", "a0")

"""Header output pins that are never left floating: pulled down before they drive, and pulled
down again when they are let go.

Why: gpiozero's lgpio pins re-claim a closed pin as an input with no pull (bias disabled), so
after ``close()`` a heater, pump, motor or relay gate floats and may pick up enough charge to
switch its MOSFET on. Here every output pin is first made an input pulled down, then claimed
as an output (the kernel keeps a line's bias when a request sets none, so the pull-down stays
under the driven output, and still holds if the process dies and the kernel frees the line),
and after gpiozero's close it is pulled down again. The board's external pull-downs
(docs/hardware.md) hold the gates in the microseconds between close and the new pull.
"""

from __future__ import annotations

from gpiozero import Device, DigitalOutputDevice


def resolve_factory(pin_factory):
    """The factory a device would use: the given one, else gpiozero's default (created now,
    through gpiozero's public ``Device.ensure_pin_factory()``, as its own Device.__init__ does)."""
    if pin_factory is not None:
        return pin_factory
    Device.ensure_pin_factory()
    return Device.pin_factory


def pull_down_first(factory, pin: int) -> None:
    """Make the pin an input pulled down, before a device claims it as an output."""
    line = factory.pin(pin)
    if line.function != "input":
        line.function = "input"
    line.pull = "down"


def release_pulled_down(factory, pin: int) -> None:
    """After gpiozero closed the device on ``pin``: leave the pin an input pulled down."""
    line = factory.pin(pin)  # one object per pin, kept by the factory after the device closed
    if line.function != "input":
        line.function = "input"
    line.pull = "down"


class LowReleasingOutput:
    """A plain on/off output: starts low, pulled down underneath, pulled down when closed."""

    def __init__(self, pin: int, pin_factory=None) -> None:
        self._factory = resolve_factory(pin_factory)
        self.pin = pin
        pull_down_first(self._factory, pin)
        self._device = DigitalOutputDevice(pin, initial_value=False, pin_factory=self._factory)
        self._closed = False

    def set(self, on: bool) -> None:
        if bool(self._device.value) != on:  # a plain GPIO write, only on a change
            self._device.value = on

    def toggle(self) -> None:
        self._device.toggle()

    @property
    def is_on(self) -> bool:
        return bool(self._device.value)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._device.off()
        self._device.close()
        release_pulled_down(self._factory, self.pin)

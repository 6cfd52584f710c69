"""Master power relay (heaters, pump, motors, valves): starts open, so power-up is safe.

Relay language: close() closes the contacts (coil energised, power flows), open() opens them.
Because close() here means "power on", freeing the GPIO is release(), which opens first and
leaves the pin pulled down (never floating: drivers/gpio_output.py).
"""

from __future__ import annotations

from .gpio_output import LowReleasingOutput


class MasterRelay:
    def __init__(self, pin: int, pin_factory=None) -> None:
        self._output = LowReleasingOutput(pin, pin_factory=pin_factory)

    def close(self) -> None:
        """Energise the coil: power flows to the actuators (the heartbeat timer must also hold)."""
        self._output.set(True)

    def open(self) -> None:
        self._output.set(False)

    @property
    def is_closed(self) -> bool:
        return self._output.is_on

    def release(self) -> None:
        """Open the relay and free the GPIO, pulled down (the coil driver's own pull-down too)."""
        self._output.close()

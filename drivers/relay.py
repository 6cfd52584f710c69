"""Master power relay (heaters, pump, motors, valves): starts open, so power-up is safe.

Relay language: close() closes the contacts (coil energised, power flows), open() opens them.
Because close() here means "power on", freeing the GPIO is release(), which opens first.
"""

from __future__ import annotations

from gpiozero import DigitalOutputDevice


class MasterRelay:
    def __init__(self, pin: int, pin_factory=None) -> None:
        self._device = DigitalOutputDevice(
            pin, active_high=True, initial_value=False, pin_factory=pin_factory
        )

    def close(self) -> None:
        """Energise the coil: power flows to the actuators (the heartbeat timer must also hold)."""
        self._device.on()

    def open(self) -> None:
        self._device.off()

    @property
    def is_closed(self) -> bool:
        return bool(self._device.value)

    def release(self) -> None:
        """Open the relay and free the GPIO (the coil driver's pull-down keeps it open)."""
        self._device.off()
        self._device.close()

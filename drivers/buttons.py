"""Panel buttons and the emergency-stop input.

Debounce is not gpiozero's bounce_time (its mock ignores it, and it runs on wall time): the
controller debounces on the event loop clock, so these only report raw edges. Callbacks arrive
on gpiozero's thread; hand them to the loop with loop.call_soon_threadsafe.
"""

from __future__ import annotations

from typing import Callable

from gpiozero import DigitalInputDevice


class PanelButton:
    """Momentary switch to GND with the internal pull-up: pressed = pin low.

    A plain DigitalInputDevice rather than gpiozero's Button: the panel needs only the edges,
    and Button's hold-detection thread polls every 100 ms, so closing each button waited up
    to that long for it (seven buttons: ~0.3 s at every shutdown).
    """

    def __init__(self, pin: int, pin_factory=None) -> None:
        self._device = DigitalInputDevice(
            pin, pull_up=True, bounce_time=None, pin_factory=pin_factory
        )
        self._callbacks: list[Callable[[bool], None]] = []
        self._device.when_activated = lambda: self._notify(True)
        self._device.when_deactivated = lambda: self._notify(False)

    @property
    def is_pressed(self) -> bool:
        return bool(self._device.is_active)

    def on_change(self, callback: Callable[[bool], None]) -> None:
        """Call callback(pressed) on every press and release."""
        self._callbacks.append(callback)

    def _notify(self, pressed: bool) -> None:
        for callback in list(self._callbacks):
            callback(pressed)

    def close(self) -> None:
        self._callbacks.clear()
        self._device.close()


class EStopInput:
    """Normally-closed e-stop contact to GND with the internal pull-up.

    Intact and released, the contact holds the pin low. Pressing it, or a cut or unplugged
    wire, lets the pull-up take the pin high: both read as tripped, so a broken e-stop circuit
    stops the machine instead of silently disabling the e-stop.
    """

    def __init__(self, pin: int, pin_factory=None) -> None:
        # pull_up=True makes gpiozero treat low as active: active = contact closed = intact.
        self._device = DigitalInputDevice(
            pin, pull_up=True, bounce_time=None, pin_factory=pin_factory
        )
        self._callbacks: list[Callable[[bool], None]] = []
        self._device.when_activated = lambda: self._notify(False)
        self._device.when_deactivated = lambda: self._notify(True)

    @property
    def is_tripped(self) -> bool:
        return not self._device.is_active

    def on_change(self, callback: Callable[[bool], None]) -> None:
        """Call callback(tripped) on every change."""
        self._callbacks.append(callback)

    def _notify(self, tripped: bool) -> None:
        for callback in list(self._callbacks):
            callback(tripped)

    def close(self) -> None:
        self._callbacks.clear()
        self._device.close()

"""The GPIO pin factory on a real Raspberry Pi: gpiozero's lgpio factory, created here, never
chosen by gpiozero's fallback.

Why in code: gpiozero picks its default factory from ``GPIOZERO_PIN_FACTORY`` and, when that is
unset and lgpio is missing, falls back through RPi.GPIO, pigpio and its native factory with only
a warning. Each of those drives the pins differently (the native factory's PWM, pigpio's daemon),
and none is what the drivers and the safety figures were checked against. Run by hand without
lgpio, the controller must say so and stop, not run on a guess.

Why not gpiozero's default instance: ``Device.pin_factory`` is closed by gpiozero's exit hook,
which re-claims every pin as an input with its bias disabled, undoing the pull-downs the output
drivers leave behind (drivers/gpio_output.py). A factory passed to each device explicitly is left
to the kernel at exit, which frees the lines with their pulls.
"""

from __future__ import annotations

import os
from typing import Mapping

ENV = "GPIOZERO_PIN_FACTORY"
WANTED = "lgpio"


class PinFactoryError(RuntimeError):
    """The lgpio pin factory cannot be had: the message says why and what to install or set."""


def make_pin_factory(env: Mapping[str, str] | None = None):
    """A new gpiozero ``LGPIOFactory`` on the Pi's GPIO chip, or ``PinFactoryError``."""
    env = os.environ if env is None else env
    asked = env.get(ENV, "").strip()
    if asked and asked.lower() != WANTED:
        raise PinFactoryError(
            f"{ENV}={asked!r}: the controller drives its pins through lgpio only; unset it or set "
            f"{ENV}={WANTED}")
    try:
        import lgpio  # noqa: F401  (the C library's binding; gpiozero imports it lazily)
        from gpiozero.pins.lgpio import LGPIOFactory
    except ImportError as err:
        raise PinFactoryError(
            f"lgpio is not importable ({err}): install Raspberry Pi OS's python3-lgpio (PyPI's lgpio "
            "has no wheel for Python 3.13) and give the virtualenv access to it "
            "(--system-site-packages)") from err
    try:
        return LGPIOFactory()
    except Exception as err:  # lgpio.error, OSError: no /dev/gpiochip*, no permission, no LG_WD
        raise PinFactoryError(
            f"cannot open the GPIO chip through lgpio: {err} (is this a Raspberry Pi? is the user "
            "in the gpio group? lgpio needs a writable working directory: LG_WD or the unit's "
            "WorkingDirectory=)") from err

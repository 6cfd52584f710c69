"""Chamber solenoid valve on the MCP23017 (12 valves do not fit the Pi header).

Fill valves are normally closed (energise to open) and vent valves normally open (energise to
close), so with no power every chamber vents: the fail-safe state. Commands take effect at the
expander's next flush(), so one tick's valve changes cost at most two I2C writes.
"""

from __future__ import annotations

from .mcp23017 import MCP23017


class Valve:
    def __init__(self, expander: MCP23017, pin: int, *, normally_open: bool) -> None:
        self._expander = expander
        self.pin = pin
        self.normally_open = normally_open
        self._expander.set_pin(pin, False)  # start unpowered: the valve's resting state

    def set_open(self, is_open: bool) -> None:
        self._expander.set_pin(self.pin, bool(is_open) != self.normally_open)

    @property
    def is_open(self) -> bool:
        """The commanded state (energised XOR normally open), not a measured one."""
        return self._expander.pin(self.pin) != self.normally_open

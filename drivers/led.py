"""Panel status LED on the MCP23017 (the Pi header has no pins left); shows at expander.flush()."""

from __future__ import annotations

from .mcp23017 import MCP23017


class ExpanderLed:
    def __init__(self, expander: MCP23017, pin: int) -> None:
        self._expander = expander
        self.pin = pin

    def set(self, on: bool) -> None:
        self._expander.set_pin(self.pin, bool(on))

    @property
    def is_on(self) -> bool:
        return self._expander.pin(self.pin)

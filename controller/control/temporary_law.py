"""What a technician's heat operation shares (autotune, commissioning's heat step): it drives
one pad in place of the pad's PID until it is done or has failed, then tells its owner once
(``on_end``), and the pad goes back to its PID from duty 0 (``HeatController``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class TemporaryLaw:
    def __init__(self, on_end: Callable[[Any], None] | None) -> None:
        self.done = False
        self.failed = False
        self.reason: str | None = None  # why it failed, in words a technician reads
        self._on_end = on_end

    @property
    def finished(self) -> bool:
        """Done or failed: the pad goes back to its own law."""
        return self.done or self.failed

    def _fail(self, reason: str) -> float:
        """End as failed (duty 0 from now on)."""
        self.failed = True
        self.reason = reason
        self._ended()
        return 0.0

    def _ended(self) -> None:
        if self._on_end is not None:
            self._on_end(self)

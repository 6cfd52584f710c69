"""Event loops for simulated time: as fast as possible, or X times real time.

The control code only ever asks the loop for the time (``loop.time()``, ``asyncio.sleep``), so
changing the loop's clock changes the speed of the whole machine, simulator included:
- ``speed 0``: looptime's fast-forwarding loop: when nothing is ready, time jumps to the next
  timer; real sockets (MQTT, the local socket) still work.
- ``speed X``: a loop whose clock runs X times faster than the monotonic clock.
- ``speed 1``: the plain asyncio loop.
"""

from __future__ import annotations

import asyncio
import selectors
import time


class ScaledTimeLoop(asyncio.SelectorEventLoop):
    """Loop time = speed × real time; the selector's waits shrink by the same factor."""

    def __init__(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0 (use the fast-forward loop for speed 0)")
        super().__init__(selectors.DefaultSelector())
        self._speed = speed
        self._t0 = time.monotonic()
        original = self._selector.select

        def select(timeout=None):
            return original(None if timeout is None else timeout / speed)

        self._selector.select = select

    def time(self) -> float:
        return self._t0 + (time.monotonic() - self._t0) * self._speed


def new_loop(speed: float) -> asyncio.AbstractEventLoop:
    if speed == 0:
        import looptime

        # noop_cycles: how many idle loop passes before time jumps; 2 is enough for our tasks
        # (they never chain timeouts) and keeps the per-tick overhead small.
        return looptime.new_event_loop(noop_cycles=2)
    if speed == 1:
        return asyncio.new_event_loop()
    return ScaledTimeLoop(speed)

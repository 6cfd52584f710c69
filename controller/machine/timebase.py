"""Event loops for simulated time: as fast as possible, or X times real time.

The control code only ever asks the loop for the time (``loop.time()``, ``asyncio.sleep``), so
changing the loop's clock changes the speed of the whole machine, simulator included:
- ``speed 0``: a fast-forwarding loop: when nothing is ready, time jumps to the next timer;
  real sockets (MQTT, the local socket) are still polled on every pass.
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


class FastForwardLoop(asyncio.SelectorEventLoop):
    """Simulated time as fast as possible: whenever no callback is ready and no I/O is waiting,
    the clock jumps straight to the next timer.

    Written by hand rather than using looptime (which the tests use) because looptime spends
    idle passes and a select() per pass before each jump: ~20 µs of loop overhead a tick against
    ~7 µs here, at 60 000 ticks for a 20-minute program. The clock counts whole
    microseconds, as looptime's does, so sums of periods do not drift by float rounding.
    Work handed to threads (``run_in_executor``) runs in real time: while any is pending the
    loop waits for it in short real sleeps and moves the clock by the real time waited.
    """

    RESOLUTION_US = 1_000_000

    def __init__(self) -> None:
        super().__init__(selectors.DefaultSelector())
        self._now_us = 0
        self._now_s = 0.0
        self._in_threads: set[asyncio.Future] = set()
        poll = self._selector.select

        def select(timeout=None):
            ready = poll(0)
            if ready or timeout == 0:
                return ready
            if self._in_threads:
                self._in_threads = {f for f in self._in_threads if not f.done()}
            if self._in_threads or timeout is None:
                # Only something outside the loop (a thread, a socket) can make progress.
                wait_s = 0.001 if timeout is None else min(timeout, 0.001)
                t0 = time.monotonic()
                ready = poll(wait_s if self._in_threads else timeout)
                if timeout is not None:
                    self._advance(min(timeout, time.monotonic() - t0))
                return ready
            self._advance(timeout)
            return []

        self._selector.select = select

    def _advance(self, seconds: float) -> None:
        step = round(seconds * self.RESOLUTION_US)
        if step == 0 and seconds > 0:
            step = 1  # a timer less than a microsecond away must still become due
        self._now_us += step
        self._now_s = self._now_us / self.RESOLUTION_US

    def time(self) -> float:
        return self._now_s

    def run_in_executor(self, executor, func, *args):
        future = super().run_in_executor(executor, func, *args)
        self._in_threads.add(future)
        return future


def new_loop(speed: float) -> asyncio.AbstractEventLoop:
    if speed == 0:
        return FastForwardLoop()
    if speed == 1:
        return asyncio.new_event_loop()
    return ScaledTimeLoop(speed)

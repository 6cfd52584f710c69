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


class _ScaledSelector(selectors.DefaultSelector):
    """Waits shrink by the loop's speed: a 1 s timer at speed 10 is a 0.1 s real wait."""

    def __init__(self, speed: float) -> None:
        super().__init__()
        self.speed = speed

    def select(self, timeout=None):
        return super().select(None if timeout is None else timeout / self.speed)


class ScaledTimeLoop(asyncio.SelectorEventLoop):
    """Loop time = speed × real time; the selector's waits shrink by the same factor."""

    def __init__(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0 (use the fast-forward loop for speed 0)")
        super().__init__(_ScaledSelector(speed))
        self._speed = speed
        self._t0 = time.monotonic()

    def time(self) -> float:
        return self._t0 + (time.monotonic() - self._t0) * self._speed


class _FastForwardSelector(selectors.DefaultSelector):
    """The fast-forward loop's selector: instead of waiting for the next timer, it moves the
    loop's clock there (see FastForwardLoop)."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: FastForwardLoop | None = None  # set once the loop exists

    def select(self, timeout=None):
        loop = self.loop
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        in_threads = loop.threads_pending()
        if in_threads or timeout is None:
            # Only something outside the loop (a thread, a socket) can make progress.
            wait_s = 0.001 if timeout is None else min(timeout, 0.001)
            t0 = time.monotonic()
            ready = super().select(wait_s if in_threads else timeout)
            if timeout is not None:
                loop.advance(min(timeout, time.monotonic() - t0))
            return ready
        loop.advance(timeout)
        return []


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
        selector = _FastForwardSelector()
        super().__init__(selector)
        selector.loop = self
        self._now_us = 0
        self._now_s = 0.0
        self._in_threads: set[asyncio.Future] = set()

    def threads_pending(self) -> bool:
        """Work handed to threads is still running."""
        if self._in_threads:
            self._in_threads = {f for f in self._in_threads if not f.done()}
        return bool(self._in_threads)

    def advance(self, seconds: float) -> None:
        """Move the clock on by ``seconds`` (in whole microseconds)."""
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

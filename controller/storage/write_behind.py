"""Disk writes off the scan cycle: one thread per state directory, in submission order.

A fault is latched in memory on the tick it is seen (the gate acts on that at once); writing it
down (three fsyncs: the lockout file, its directory, the log) can take hundreds of ms on a
worn SD card, and the scan cycle must not wait for that (a late tick is itself a fault). So
the writes go to a queue that one worker thread drains in order: a lockout file is always
replaced before the log line that records it, and a reset's file before its log line.

The worker is a non-daemon thread that ends when idle: the interpreter waits for non-daemon
threads at exit, so writes queued before a normal shutdown still reach the disk; ``flush``
waits for them explicitly. One writer per directory (``for_directory``) keeps that order even
when two store objects name the same directory (a restart in the same process, in tests).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from pathlib import Path
from typing import Callable

log = logging.getLogger("legtherapy.storage")

#: how long the worker waits for more work before its thread ends
IDLE_EXIT_S = 0.5

_registry: dict[str, "WriteBehind"] = {}
_registry_lock = threading.Lock()


class WriteBehind:
    """Runs ``fn()`` calls on a worker thread in the order they were submitted."""

    def __init__(self, name: str = "writer") -> None:
        self.name = name
        self._queue: queue.Queue[tuple[Callable[[], None], Callable[[Exception], None] | None]] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, fn: Callable[[], None], on_error: Callable[[Exception], None] | None = None) -> None:
        """Queue ``fn``; never blocks. ``on_error(err)`` runs on the worker if ``fn`` raises."""
        self._queue.put((fn, on_error))
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"write-behind:{self.name}", daemon=False)
                self._thread.start()

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until everything submitted so far is written; False if ``timeout_s`` ran out."""
        done = threading.Event()
        self.submit(done.set)
        return done.wait(timeout_s)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        while True:
            try:
                fn, on_error = self._queue.get(timeout=IDLE_EXIT_S)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            try:
                fn()
            except Exception as err:  # noqa: BLE001 - one failed write must not stop the later ones
                if on_error is not None:
                    try:
                        on_error(err)
                    except Exception:  # noqa: BLE001
                        log.exception("error handler of a %s write failed", self.name)
                else:
                    log.error("%s: a write failed: %s", self.name, err)


def for_directory(directory: str | os.PathLike) -> WriteBehind:
    """The one writer for this directory (created on first use)."""
    key = str(Path(directory).resolve())
    with _registry_lock:
        writer = _registry.get(key)
        if writer is None:
            writer = _registry[key] = WriteBehind(Path(key).name or key)
        return writer

"""The fault latch: what is wrong stays wrong until the cause is gone and a person says so.

A fault is latched on the tick it is first seen and stays active until acknowledged (stop
faults, once the cause is gone) or reset by a technician (lockouts). A lockout is written to
the fault store, so it survives a crash or a power cut.

The lockout is in force in memory the moment it is raised; writing it down happens on the
store's write-behind thread (``controller.storage.write_behind``), because three fsyncs on a
slow SD card take longer than the scan cycle may wait. At start the lockouts come from the
store's cross-check of the fault log and the lockout file (``FaultStore.load_latched``).
"""

from __future__ import annotations

import logging
from typing import Callable

from controller.model.faults import Fault, Severity
from controller.storage.fault_store import FaultStore
from controller.storage.write_behind import WriteBehind

log = logging.getLogger("legtherapy.faults")


class FaultLatch:
    """The active faults. Lockouts are saved to disk the moment they are raised.

    The store is optional (tests, tools). A store that fails (disk full, read-only) never stops
    the latch from latching: safety does not depend on the disk, the error is logged. Writes go
    through the store's ``writer`` (a ``WriteBehind``) when it has one, else happen inline.
    """

    def __init__(self, store: "FaultStore | None" = None, now_s: float = 0.0) -> None:
        self._store = store
        self._writer: WriteBehind | None = getattr(store, "writer", None)
        self._active: dict[tuple[str, str | None], Fault] = {}
        self.store_errors = 0
        if store is not None:
            load = getattr(store, "load_latched", None) or store.load_lockout
            restored = load(now_s)
            for fault in restored:
                self._active[fault.key] = fault
                self._log({"event": "restored", "t_s": now_s, "by": "start-up", "fault": fault.to_dict()})
            if restored:
                self._save_lockouts()  # the summary matches the record again (it may have been lost)

    # ------------------------------------------------------------------ queries
    def active(self) -> list[Fault]:
        return list(self._active.values())

    @property
    def has_lockout(self) -> bool:
        return any(f.severity is Severity.LOCKOUT for f in self._active.values())

    def lockouts(self) -> list[Fault]:
        return [f for f in self._active.values() if f.severity is Severity.LOCKOUT]

    # ------------------------------------------------------------------ changes
    def raise_fault(self, fault: Fault) -> bool:
        """Latch a fault; False if the same code is already active on the same zone."""
        if fault.key in self._active:
            return False
        self._active[fault.key] = fault
        # The log line first: the fault log is the record (a lockout raised there without a reset
        # stays in force at the next start), the lockout file its summary. The writer keeps the
        # order, so "lockout recorded on disk" means both are durable.
        self._log({"event": "raise", "t_s": fault.t_s, "fault": fault.to_dict()})
        if fault.severity is Severity.LOCKOUT:
            self._save_lockouts()
        return True

    def acknowledge(self, cause_gone: Callable[[Fault], bool], now_s: float | None = None,
                    by: str = "ack") -> tuple[list[Fault], list[tuple[Fault, str]]]:
        """Clear stop faults (and warnings) whose cause is gone; lockouts stay.

        Returns (cleared, kept) where each kept fault comes with the reason it stayed.
        """
        cleared: list[Fault] = []
        kept: list[tuple[Fault, str]] = []
        for key, fault in list(self._active.items()):
            if fault.severity is Severity.LOCKOUT:
                kept.append((fault, "lockout: a technician must check the machine and reset it"))
                continue
            if fault.severity is Severity.STOP and not _safe_call(cause_gone, fault):
                kept.append((fault, f"the cause is still present: {fault.message}"))
                continue
            del self._active[key]
            cleared.append(fault)
            self._log({"event": "clear", "t_s": now_s, "by": by, "fault": fault.to_dict()})
        return cleared, kept

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every fault raised so far is on disk (shutdown, tests); False on timeout."""
        return True if self._writer is None else self._writer.flush(timeout_s)

    def reset_lockout(self, by: str, now_s: float | None = None) -> list[Fault]:
        """Technician reset (the caller makes sure it came from a local source). Logs who."""
        reset = self.lockouts()
        for fault in reset:
            del self._active[fault.key]
        self._save_lockouts()
        for fault in reset:
            self._log({"event": "reset", "t_s": now_s, "by": by, "fault": fault.to_dict()})
        if reset:
            log.warning("lockout reset by %s: %s", by, ", ".join(f.code for f in reset))
        return reset

    # ------------------------------------------------------------------ persistence
    def _save_lockouts(self) -> None:
        if self._store is not None:
            lockouts = self.lockouts()  # as they are now, not when the writer gets to it
            store = self._store

            def save() -> None:
                store.save_lockout(lockouts)
                if lockouts:  # the moment a lockout is durable (a kill -9 after this keeps it)
                    log.warning("lockout recorded on disk: %s", ", ".join(
                        f.code + (f" ({f.zone})" if f.zone else "") for f in lockouts))

            self._write(save, "could not save the lockout state")

    def _log(self, entry: dict) -> None:
        if self._store is not None:
            self._write(lambda: self._store.append(entry), "could not append to the fault log")

    def _write(self, fn: Callable[[], None], what: str) -> None:
        def failed(err: Exception) -> None:
            self.store_errors += 1
            log.error("%s: %s", what, err)

        if self._writer is not None:
            self._writer.submit(fn, failed)
            return
        try:
            fn()
        except (OSError, ValueError) as err:
            failed(err)


def _safe_call(cause_gone: Callable[[Fault], bool], fault: Fault) -> bool:
    """A check that fails keeps the fault: an error must never clear one."""
    try:
        return bool(cause_gone(fault))
    except Exception:  # noqa: BLE001 - any failure means "not shown to be gone"
        log.exception("cause check for %s failed; the fault stays", fault.code)
        return False

"""The fault log and the latched lockout, on disk, surviving a crash or a power cut.

- ``faults.jsonl``: one JSON object a line, appended and fsync'ed before ``append`` returns, so
  a line the caller saw written is never lost to kill -9 or a power cut. A power cut in the
  middle of a write can leave a torn last line: the reader skips it and the next append starts
  on a fresh line. The log is bounded: past ``max_bytes`` it is rotated to ``faults.jsonl.1``
  (one generation kept), so it can never fill the SD card.
- ``lockout.json``: the active lockouts, replaced atomically (temp file in the same directory,
  fsync, ``os.replace``, fsync the directory), so after any crash it is either the old or the
  new state, never half of each. A file that cannot be read is *not* "no lockout": it loads as
  a ``lockout_state_corrupt`` lockout, because silently unlatching a stuck-heater lockout after
  a power cut is the worst outcome.

The log is the record and the lockout file its summary. At start (``load_latched``) the two
are cross-checked: a lockout whose raise (or restore) is in the log with no reset after it stays
in force whatever the lockout file says (deleted, emptied, damaged), and so does every lockout
the file holds. When the log rotates, the lockouts in force are carried into the new log first,
so rotation never drops the record of one.

Everything read here is bounded before it is parsed (``bounded_json``): a hostile or damaged
line or file is skipped or refused, never a ``RecursionError`` at start or on a socket request.
Writes are synchronous here; the latch runs them on this directory's ``writer`` thread, off
the scan cycle.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from controller.model.bounded_json import JsonRefused, loads as bounded_loads
from controller.model.faults import Fault, Severity, json_ready
from controller.storage import write_behind
from controller.storage.atomic_file import fsync_dir, write_atomic
from controller.storage.state_dir import StateDirError

log = logging.getLogger("legtherapy.fault_store")

LOG_NAME = "faults.jsonl"
LOCKOUT_NAME = "lockout.json"
_TMP_PREFIX = ".lockout."
_TMP_SUFFIX = ".tmp"
DEFAULT_MAX_BYTES = 1_000_000  # ~1 MB a generation: thousands of fault lines
#: one log line or the lockout file: a fault with its readings is well under this
MAX_RECORD_BYTES = 64 * 1024
#: a log line is {"event", "fault": {"readings": {...}}}: 3 levels; a little room beyond
MAX_RECORD_DEPTH = 8
#: events after which the fault they carry is in force (as a lockout) until a "reset"
_IN_FORCE_EVENTS = ("restored", "carried")


class FaultStore:
    def __init__(self, state_dir: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.dir = Path(state_dir)
        if self.dir.exists() and not self.dir.is_dir():
            raise StateDirError(f"state directory {self.dir} is a file, not a directory")
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.log_path = self.dir / LOG_NAME
        self.old_log_path = self.dir / (LOG_NAME + ".1")
        self.lockout_path = self.dir / LOCKOUT_NAME
        self.max_bytes = max_bytes
        #: the lockouts last saved or loaded: what a rotation carries into the new log
        self._lockouts: list[Fault] = []
        #: this directory's write-behind thread (the latch queues its writes there)
        self.writer = write_behind.for_directory(self.dir)
        self._remove_stale_temp_files()

    # ------------------------------------------------------------------ the log
    def append(self, entry: dict) -> None:
        """Append one line and make it durable before returning."""
        line = _line(entry)
        self._rotate_if_full()
        created = not self.log_path.exists()
        fd = os.open(self.log_path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            data = line.encode("utf-8")
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # a torn last line from a power cut: start a fresh one
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.dir)

    def read_log(self, limit: int = 500) -> list[dict]:
        """The last ``limit`` entries, oldest first. Torn or garbled lines are skipped."""
        entries = self._entries()
        return entries[-limit:] if limit > 0 else []

    def _entries(self) -> list[dict]:
        """Every readable entry of both generations, oldest first (bounded: see ``_read_tail``)."""
        entries: list[dict] = []
        for path in (self.old_log_path, self.log_path):
            for line in self._read_tail(path).splitlines():
                if not line.strip():
                    continue
                try:
                    entry = bounded_loads(line, max_bytes=MAX_RECORD_BYTES, max_depth=MAX_RECORD_DEPTH)
                except JsonRefused:
                    continue  # torn by a power cut, or not ours: skipped, never fatal
                if isinstance(entry, dict):
                    entries.append(entry)
        return entries

    def _read_tail(self, path: Path) -> str:
        """A generation's text; at most its last 2 x ``max_bytes`` (rotation keeps it below that)."""
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                keep = 2 * max(self.max_bytes, MAX_RECORD_BYTES)
                if size > keep:
                    f.seek(size - keep)
                    f.readline()  # drop the partial first line
                return f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""
        except OSError as err:
            log.error("cannot read the fault log %s: %s", path, err)
            return ""

    def _rotate_if_full(self) -> None:
        try:
            size = self.log_path.stat().st_size
        except FileNotFoundError:
            return
        if size >= self.max_bytes:
            os.replace(self.log_path, self.old_log_path)
            # the lockouts in force open the new generation: the record of them is never rotated away
            carried = "".join(_line({"event": "carried", "t_s": f.t_s, "by": "rotation", "fault": f.to_dict()})
                              for f in self._lockouts)
            if carried:
                fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    _write_all(fd, carried.encode("utf-8"))
                    os.fsync(fd)
                finally:
                    os.close(fd)
            fsync_dir(self.dir)

    # ------------------------------------------------------------------ the lockout
    def save_lockout(self, faults: list[Fault]) -> None:
        """Atomically replace the lockout file with these faults ([] = no lockout)."""
        payload = json.dumps({"version": 1, "lockouts": [f.to_dict() for f in faults]},
                             indent=1, allow_nan=False).encode("utf-8")
        write_atomic(self.lockout_path, payload)
        self._lockouts = list(faults)

    def load_latched(self, now_s: float = 0.0) -> list[Fault]:
        """The lockouts in force at start: the lockout file cross-checked against the log.

        Every lockout the file holds, plus every lockout the log raised (or restored) without a
        reset after it. The file is only a summary: deleting or emptying it clears nothing."""
        self.writer.flush()  # writes still queued from this process belong to the record
        latched = {f.key: f for f in self.load_lockout(now_s)}
        for fault in self.lockouts_in_log():
            if fault.key not in latched:
                log.error("lockout %s%s is in the fault log with no reset, but not in %s: it stays in force",
                          fault.code, f" ({fault.zone})" if fault.zone else "", self.lockout_path)
                latched[fault.key] = fault
        self._lockouts = list(latched.values())
        return self._lockouts

    def lockouts_in_log(self) -> list[Fault]:
        """Lockouts the log raised, restored or carried with no reset after them, oldest first."""
        in_force: dict[tuple[str, str | None], Fault] = {}
        for entry in self._entries():
            event = entry.get("event")
            data = entry.get("fault")
            if not isinstance(data, dict):
                continue
            try:
                fault = Fault.from_dict(data)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            if event == "reset":
                in_force.pop(fault.key, None)
            elif (event == "raise" and fault.severity is Severity.LOCKOUT) or event in _IN_FORCE_EVENTS:
                in_force.setdefault(fault.key, _as_lockout(fault))
        return list(in_force.values())

    def load_lockout(self, now_s: float = 0.0) -> list[Fault]:
        """The lockout file alone; a file that cannot be read loads as a lockout of its own."""
        try:
            raw = self.lockout_path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as err:
            return [self._corrupt(now_s, f"it could not be read ({err})")]
        try:
            data = bounded_loads(raw, max_bytes=MAX_RECORD_BYTES * 16, max_depth=MAX_RECORD_DEPTH)
            items = data["lockouts"]
            if not isinstance(items, list):
                raise ValueError("'lockouts' is not a list")
            faults = [Fault.from_dict(item) for item in items]
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as err:
            return [self._corrupt(now_s, f"it is damaged ({type(err).__name__}: {err})")]
        # Whatever was saved here was saved as a lockout: it loads as one.
        return [_as_lockout(f) for f in faults]

    def _corrupt(self, now_s: float, why: str) -> Fault:
        message = (f"the saved lockout state {self.lockout_path} could not be trusted: {why}. "
                   "The machine stays locked out until a technician checks it and resets the lockout.")
        log.error(message)
        return Fault.make("lockout_state_corrupt", None, now_s, message,
                          {"path": str(self.lockout_path), "reason": why})

    def _remove_stale_temp_files(self) -> None:
        """A crash between creating and renaming a temp file leaves it behind: tidy it up."""
        for tmp in self.dir.glob(_TMP_PREFIX + "*" + _TMP_SUFFIX):
            try:
                tmp.unlink()
            except OSError:
                pass


def _as_lockout(fault: Fault) -> Fault:
    if fault.severity is Severity.LOCKOUT:
        return fault
    return Fault(fault.code, Severity.LOCKOUT, fault.zone, fault.t_s, fault.message, fault.readings)


def _line(entry: dict) -> str:
    return json.dumps(json_ready(entry), separators=(",", ":"), allow_nan=False) + "\n"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]

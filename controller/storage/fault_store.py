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
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from controller.storage.atomic_file import fsync_dir, write_atomic
from controller.model.faults import Fault, Severity, json_ready

log = logging.getLogger("legtherapy.fault_store")

LOG_NAME = "faults.jsonl"
LOCKOUT_NAME = "lockout.json"
_TMP_PREFIX = ".lockout."
_TMP_SUFFIX = ".tmp"
DEFAULT_MAX_BYTES = 1_000_000  # ~1 MB a generation: thousands of fault lines


class FaultStore:
    def __init__(self, state_dir: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.dir = Path(state_dir)
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.log_path = self.dir / LOG_NAME
        self.old_log_path = self.dir / (LOG_NAME + ".1")
        self.lockout_path = self.dir / LOCKOUT_NAME
        self.max_bytes = max_bytes
        self._remove_stale_temp_files()

    # ------------------------------------------------------------------ the log
    def append(self, entry: dict) -> None:
        """Append one line and make it durable before returning."""
        line = json.dumps(json_ready(entry), separators=(",", ":"), allow_nan=False) + "\n"
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
        entries: list[dict] = []
        for path in (self.old_log_path, self.log_path):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:
                continue
            for line in text.splitlines():
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict):
                    entries.append(entry)
        return entries[-limit:] if limit > 0 else []

    def _rotate_if_full(self) -> None:
        try:
            size = self.log_path.stat().st_size
        except FileNotFoundError:
            return
        if size >= self.max_bytes:
            os.replace(self.log_path, self.old_log_path)
            fsync_dir(self.dir)

    # ------------------------------------------------------------------ the lockout
    def save_lockout(self, faults: list[Fault]) -> None:
        """Atomically replace the lockout file with these faults ([] = no lockout)."""
        payload = json.dumps({"version": 1, "lockouts": [f.to_dict() for f in faults]},
                             indent=1, allow_nan=False).encode("utf-8")
        write_atomic(self.lockout_path, payload)

    def load_lockout(self, now_s: float = 0.0) -> list[Fault]:
        """The latched lockouts; a file that cannot be read loads as a lockout of its own."""
        try:
            raw = self.lockout_path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as err:
            return [self._corrupt(now_s, f"it could not be read ({err})")]
        try:
            data = json.loads(raw.decode("utf-8"))
            items = data["lockouts"]
            if not isinstance(items, list):
                raise ValueError("'lockouts' is not a list")
            faults = [Fault.from_dict(item) for item in items]
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as err:
            return [self._corrupt(now_s, f"it is damaged ({type(err).__name__}: {err})")]
        # Whatever was saved here was saved as a lockout: it loads as one.
        return [f if f.severity is Severity.LOCKOUT else Fault(f.code, Severity.LOCKOUT, f.zone, f.t_s,
                                                                 f.message, f.readings)
                for f in faults]

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


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]

"""The state directory is checked before the machine runs: it must be a directory we can write.

The fault log and the lockout file live there. A machine that cannot write them would latch a
lockout in memory, log "could not save", and after a restart run again as if nothing had
happened: so a state directory that is missing and cannot be made, is a file, or refuses a
write (a read-only mount, wrong owner) stops the start with a message that says how to fix it.
The check writes, fsyncs and removes a probe file, because permission bits do not tell the
truth about read-only mounts (or about root).
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

_PROBE_PREFIX = ".write-probe."
_PROBE_SUFFIX = ".tmp"
#: files in the state directory that must be regular files we can write (the fault record)
RECORD_FILES = ("faults.jsonl", "lockout.json")


class StateDirError(RuntimeError):
    """The state directory cannot hold the fault record; the text names the fix."""


def check_state_dir(path: str | os.PathLike) -> Path:
    """Make sure ``path`` is a writable directory (creating it if needed); ``StateDirError`` if not."""
    directory = Path(path)
    fix = "(set --state-dir or state_dir in the config to a writable directory, or run as the service user)"
    if directory.exists() and not directory.is_dir():
        raise StateDirError(f"state directory {directory} is a file, not a directory {fix}")
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as err:
        raise StateDirError(f"cannot create the state directory {directory}: {err.strerror or err} {fix}") from None
    _sweep_probes(directory)
    try:
        fd, probe = tempfile.mkstemp(prefix=_PROBE_PREFIX, suffix=_PROBE_SUFFIX, dir=directory)
        try:
            os.write(fd, b"probe")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as err:
        raise StateDirError(f"state directory {directory} is not writable ({err.strerror or err}): the fault log "
                            f"and lockouts could not be kept, so the machine does not run {fix}") from None
    for name in RECORD_FILES:
        _check_record_file(directory / name, fix)
    return directory


def _check_record_file(path: Path, fix: str) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise StateDirError(f"{path} is not a regular file: move it away {fix}")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        os.close(fd)
    except OSError as err:
        raise StateDirError(f"{path} cannot be written ({err.strerror or err}) {fix}") from None


def _sweep_probes(directory: Path) -> None:
    for leftover in directory.glob(_PROBE_PREFIX + "*" + _PROBE_SUFFIX):
        try:
            leftover.unlink()
        except OSError:
            pass

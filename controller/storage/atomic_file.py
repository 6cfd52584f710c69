"""Durable, atomic file replacement for the state directory (lockout, PID gains, calibration).

Write a temporary file beside the target (mode 0600), fsync it, ``os.replace`` it over the
target, then fsync the directory: after a crash or power cut the file is either the old one or
the new one, never a torn mix. Temporary names are ``.<name>.*.tmp`` so start-up can sweep
leftovers.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: str | os.PathLike, data: bytes | str) -> None:
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)


def fsync_dir(directory: str | os.PathLike) -> None:
    """Make a create or rename durable: the directory entry itself must reach the disk."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some filesystems cannot open a directory: nothing more to do there
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

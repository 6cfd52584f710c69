"""The throwaway venv with Home Assistant that the schema test runs its checks in.

Home Assistant pins dozens of libraries; installed into the project's venv it would fight our
own pins, so it gets its own venv (``.venv-ha`` at the repository root, or
``$LEGTHERAPY_HA_VENV``), built once from ``ha-requirements.txt`` by ``make ha-venv`` (a
prerequisite of ``make test``) or, if missing, by the test itself. Never skipped: without
Home Assistant the test fails and says why.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = Path(__file__).with_name("ha-requirements.txt")


def venv_dir() -> Path:
    return Path(os.environ.get("LEGTHERAPY_HA_VENV", ROOT / ".venv-ha"))


def ha_python() -> Path:
    """The Python of the Home Assistant venv, built first if it is not there (under a lock,
    so parallel test workers build it once)."""
    venv = venv_dir()
    python, stamp = venv / "bin" / "python", venv / ".installed"
    wanted = REQUIREMENTS.read_text()
    if stamp.exists() and stamp.read_text() == wanted:
        return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(str(venv) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (stamp.exists() and stamp.read_text() == wanted):
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True)
            stamp.write_text(wanted)
    return python


if __name__ == "__main__":  # make ha-venv
    print(ha_python())

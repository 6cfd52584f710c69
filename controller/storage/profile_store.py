"""The person's profile on disk (``profile.json`` in the state directory), kept like a lockout.

Why kept at all: a profile forgotten on restart meant a person with varicose veins got deep
massage at intensity 5 after the next reboot. Why atomic (``atomic_file``): a power cut while
saving must leave the old profile or the new one, never a torn file. Why a damaged file loads
as the *strictest* profile (every condition on both legs, unconfirmed) and never as "no
conditions": the file is the only record of the person's conditions, and guessing them away
is the one mistake that can hurt someone; the strictest profile refuses every program, and the
message says how to set the profile again (at the panel, or ``legctl profile set``).

Format: ``{"version": 1, "confirmed": true, "profile": {<Profile.stored()>}}``. A missing file
means no profile was ever confirmed on this machine.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from controller.model.bounded_json import loads as bounded_loads
from controller.model.profile import STRICTEST, Profile
from controller.storage.atomic_file import write_atomic

log = logging.getLogger("legtherapy.profile")

FILE_NAME = "profile.json"
VERSION = 1
#: a profile file is a dozen lines; anything bigger is not one
MAX_FILE_BYTES = 16 * 1024
MAX_DEPTH = 4


@dataclass(frozen=True)
class LoadedProfile:
    profile: Profile
    confirmed: bool  # confirmed once by a person at the machine (panel or technician socket)
    problem: str | None = None  # why the file could not be trusted (then: the strictest profile)
    found: bool = True  # False: no file (no profile was ever saved)


def profile_path(state_dir: str | os.PathLike) -> Path:
    return Path(state_dir) / FILE_NAME


def load_profile(state_dir: str | os.PathLike) -> LoadedProfile:
    """The saved profile; never raises. Missing: no conditions, unconfirmed. Damaged: the
    strictest profile, unconfirmed, with ``problem`` saying why."""
    path = profile_path(state_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return LoadedProfile(Profile(), confirmed=False, found=False)
    except OSError as err:
        return _damaged(path, f"it could not be read ({err.strerror or err})")
    try:
        data = bounded_loads(raw, max_bytes=MAX_FILE_BYTES, max_depth=MAX_DEPTH)
        if not isinstance(data, dict) or data.get("version") != VERSION:
            raise ValueError(f"not a version {VERSION} profile file")
        confirmed = data.get("confirmed")
        if not isinstance(confirmed, bool):
            raise ValueError("'confirmed' is not true or false")
        profile = Profile.model_validate(data.get("profile"))
    except (ValueError, ValidationError, TypeError) as err:
        return _damaged(path, f"it is damaged ({type(err).__name__}: {str(err).splitlines()[0][:200]})")
    return LoadedProfile(profile, confirmed=confirmed)


def save_profile(state_dir: str | os.PathLike, profile: Profile, confirmed: bool) -> None:
    """Atomically replace the profile file (raises ``OSError`` if it cannot be written)."""
    payload = {"version": VERSION, "confirmed": bool(confirmed), "profile": profile.stored()}
    write_atomic(profile_path(state_dir), json.dumps(payload, indent=1, sort_keys=True) + "\n")


def _damaged(path: Path, why: str) -> LoadedProfile:
    message = (f"the saved profile {path} could not be trusted: {why}. Every condition is assumed on both legs "
               "(every program is refused) until the profile is set again at the panel or with legctl profile set")
    log.error("%s", message)
    return LoadedProfile(STRICTEST, confirmed=False, problem=message)

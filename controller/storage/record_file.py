"""Loading a record the machine keeps for people (the daily record, the service record): a
bounded JSON file checked by its pydantic model. A record is information, not safety: a file
that cannot be read starts a new record, and a damaged one is kept beside it as ``NAME.bad``
for a technician, never silently overwritten. (The lockout and the profile are stricter: a
damaged file there means the safe reading; see fault_store and profile_store.)"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from controller.model.bounded_json import JsonRefused, loads as bounded_loads

log = logging.getLogger("legtherapy.storage")

Record = TypeVar("Record", bound=BaseModel)


def load_record(path: Path, model: type[Record], *, what: str, max_bytes: int,
                max_depth: int) -> tuple[Record, str | None]:
    """(The record at ``path``, or a new empty ``model()``; the problem in words, or None). ``what``
    names the record in the words ("service record")."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return model(), None
    except OSError as err:
        problem = f"{what} {path} could not be read ({err}): a new record was started"
        log.warning("%s", problem)
        return model(), problem
    try:
        return model.model_validate(bounded_loads(raw, max_bytes=max_bytes, max_depth=max_depth)), None
    except (JsonRefused, ValueError, ValidationError) as err:
        bad = path.with_name(path.name + ".bad")
        problem = (f"{what} {path.name} was damaged ({str(err).splitlines()[0][:120]}): "
                   f"kept as {bad.name}, a new record was started")
        log.warning("%s", problem)
        try:
            os.replace(path, bad)
        except OSError:
            pass
        return model(), problem

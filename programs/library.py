"""Loading program files: one bad file is reported, never fatal to the others.

A typo in one user program must not take the built-in library down with it, so
``load_library`` returns the good programs *and* the errors; the caller decides whom to tell.
Every error names the file, the field path (``phases[2].compression.pressure_mmhg.calf``) and
the reason, so the person fixing it does not need to read the code.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from controller.model.bounded_json import MAX_TOML_BYTES, MAX_TOML_DEPTH, JsonRefused, check_bounds
from controller.model.limits import SafetyLimits
from programs.schema import Problems, Program, ProgramError

BUILTIN_DIR = Path(__file__).with_name("builtin")


def load_program(path: Path | str, limits: SafetyLimits | None = None) -> Program:
    """Read, parse and validate one program file against ``limits`` (raises ``ProgramError``)."""
    path = Path(path)
    limits = limits or SafetyLimits()
    try:
        data = tomllib.loads(check_bounds(path.read_text(encoding="utf-8"), max_bytes=MAX_TOML_BYTES,
                                          max_depth=MAX_TOML_DEPTH, toml=True))
    except FileNotFoundError:
        raise ProgramError(path, [("(file)", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ProgramError(path, [("(file)", f"cannot be read: {err}")]) from None
    except JsonRefused as err:  # too large or too deep: tomllib would recurse to a RecursionError
        raise ProgramError(path, [("(file)", f"refused: {err}")]) from None
    except tomllib.TOMLDecodeError as err:
        raise ProgramError(path, [("(file)", f"not valid TOML: {err}")]) from None

    problems: Problems = []
    file_id = data.get("id")
    if isinstance(file_id, str) and file_id != path.stem:
        problems.append(("id", f"{file_id!r} must equal the file name {path.stem!r}"))
    try:
        program = Program.model_validate(data, context={"limits": limits})
    except ValidationError as err:
        raise ProgramError(path, problems + _problems_of(err)) from None
    if problems:
        raise ProgramError(path, problems)
    return program


def load_library(
    dirs: list[Path] | None = None, limits: SafetyLimits | None = None
) -> tuple[dict[str, Program], list[ProgramError]]:
    """Every ``*.toml`` in ``dirs`` (default: the built-ins), by id, plus what was refused.

    Directories are read in the order given and files in name order; when an id appears twice
    the first file wins and the second is reported with both file names.
    """
    limits = limits or SafetyLimits()
    programs: dict[str, Program] = {}
    sources: dict[str, Path] = {}
    errors: list[ProgramError] = []
    for folder in [BUILTIN_DIR] if dirs is None else dirs:
        folder = Path(folder)
        if not folder.is_dir():
            errors.append(ProgramError(folder, [("(directory)", "not found or not a directory")]))
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                program = load_program(path, limits)
            except ProgramError as err:
                errors.append(err)
                continue
            if program.id in programs:
                errors.append(ProgramError(path, [("id", f"{program.id!r} is already defined by "
                                                        f"{sources[program.id]}; this file is ignored")]))
                continue
            programs[program.id] = program
            sources[program.id] = path
    return programs, errors


def describe(program: Program) -> dict:
    """The public face of a program (``legtherapy programs --json``, MQTT, the socket)."""
    return {
        "id": program.id,
        "name": program.name,
        "duration_s": program.duration_s,
        "summary": program.summary,
        "for_whom": list(program.for_whom),
        "category": program.category,
        "deep": program.deep,
    }


def _problems_of(err: ValidationError) -> Problems:
    out: Problems = []
    for e in err.errors():
        loc = _path(e["loc"])
        if e["type"] == "program_rule":
            for sub, reason in e["ctx"]["problems"]:
                out.append((_join(loc, sub), reason))
            continue
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (not part of a program file)"
        elif e["type"] == "missing":
            msg = "required"
        elif e["type"] == "too_short":
            msg = "must not be empty"
        elif not isinstance(e.get("input"), (dict, list)):
            msg = f"{msg} (got {e['input']!r})"
        out.append((loc or "(top level)", msg))
    return out


def _path(loc: tuple) -> str:
    """('phases', 2, 'compression', 'chambers') -> 'phases[2].compression.chambers'."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == "[key]":  # a bad dict key: the key itself is already the last part
            continue
        else:
            text += f".{part}" if text else str(part)
    return text


def _join(base: str, sub: str) -> str:
    if not base:
        return sub
    if not sub:
        return base
    return f"{base}.{sub}"

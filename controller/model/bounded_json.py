"""JSON (and TOML) that cannot be driven into deep recursion, huge allocations or non-numbers.

Python's ``json`` and ``tomllib`` parse nested arrays by recursion: a 3 kB payload of 1500
``[`` raises ``RecursionError`` (not ``ValueError``), which every ``except ValueError`` around a
parse lets through, and which took down the MQTT link and the technician socket. They also
accept ``NaN``, ``Infinity`` and ``1e999`` (a float that overflows to infinity), and a NaN
compares False with every limit. So every channel and state file parses through here:

1. a size bound on the raw bytes;
2. a cheap depth scan (strings stripped by one regex, then the brackets counted), before the
   parser sees the text;
3. ``json.loads`` with ``NaN``/``Infinity`` refused and every float required to be finite.

Any refusal is a ``JsonRefused`` (a ``ValueError``) whose text says what was wrong.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

#: deeper than any message or state file of ours (a command is 1 level, the fault log 3)
DEFAULT_MAX_DEPTH = 32
#: a machine config or program file is a few kB and nests a few levels (arrays of tables)
MAX_TOML_BYTES = 1024 * 1024
MAX_TOML_DEPTH = 16

# Possessive quantifiers (*+): no backtracking, so an unterminated string costs one pass.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*+"', re.DOTALL)
_TOML_STRING = re.compile(r'"""(?:[^\\]|\\.)*?"""|\'\'\'.*?\'\'\'|"(?:[^"\\\n]|\\.)*+"|\'[^\'\n]*\'|#[^\n]*',
                          re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class JsonRefused(ValueError):
    """A payload or file was refused before or while parsing; the text says why."""


def nesting_depth(text: str, *, toml: bool = False, stop_above: int | None = None) -> int:
    """The deepest ``[``/``{`` nesting outside strings (and TOML comments).

    Stops counting once ``stop_above`` is passed: a hostile line costs no more than needed.
    Unbalanced brackets are left for the parser to refuse."""
    stripped = (_TOML_STRING if toml else _JSON_STRING).sub("", text)
    depth = deepest = 0
    for match in _BRACKET.finditer(stripped):
        if match.group() in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    return deepest
        elif depth:
            depth -= 1
    return deepest


def check_bounds(text: str | bytes, *, max_bytes: int, max_depth: int = DEFAULT_MAX_DEPTH,
                 toml: bool = False) -> str:
    """The text (decoded as UTF-8), or ``JsonRefused`` if it is too large, too deep or not UTF-8."""
    if len(text) > max_bytes:
        raise JsonRefused(f"too large: {len(text)} bytes (limit {max_bytes})")
    if isinstance(text, (bytes, bytearray, memoryview)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as err:
            raise JsonRefused(f"not UTF-8 text (byte {err.start})") from None
    if nesting_depth(text, toml=toml, stop_above=max_depth) > max_depth:
        raise JsonRefused(f"nested deeper than {max_depth} levels")
    return text


def loads(data: str | bytes, *, max_bytes: int, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Parse strict JSON within the bounds; ``JsonRefused`` names what was wrong (and where)."""
    text = check_bounds(data, max_bytes=max_bytes, max_depth=max_depth)
    markers: list[_NonFinite] = []

    def non_finite(literal: str) -> Any:
        markers.append(_NonFinite(literal))
        return markers[-1]

    def parse_float(literal: str) -> Any:
        value = float(literal)
        return value if math.isfinite(value) else non_finite(literal)

    try:
        value = json.loads(text, parse_constant=non_finite, parse_float=parse_float)
    except RecursionError:  # the scan above makes this unreachable; a second fence costs nothing
        raise JsonRefused(f"nested too deeply to parse (limit {max_depth})") from None
    except ValueError as err:
        raise JsonRefused(f"not valid JSON ({err})") from None
    if markers:
        where = _path_of(value, markers[0]) or "a value"
        raise JsonRefused(f"{where}: {markers[0].literal[:20]} is not a finite number")
    return value


class _NonFinite:
    """Stands in for NaN, Infinity or an overflowing number until its place can be named."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _path_of(value: Any, target: _NonFinite, prefix: str = "") -> str | None:
    """``interval_s`` or ``command.value`` or ``[2]``: where ``target`` sits (depth is bounded)."""
    if value is target:
        return prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        name = f"{prefix}.{key}" if isinstance(key, str) and prefix else key if isinstance(key, str) else f"{prefix}[{key}]"
        found = _path_of(item, target, name)
        if found is not None:
            return found
    return None

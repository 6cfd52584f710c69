"""The command lines' numeric flags (``legtherapy run --speed``, ``legctl --timeout`` …), parsed
once for both tools.

``float("nan")`` parses, and a NaN passes every ``<`` check; ``socket.settimeout(-1)`` raises a
bare ValueError: both once ended in a traceback. Here anything that is not a finite number in
range is a usage error (exit 2) that names the value and the range.
"""

from __future__ import annotations

import argparse
import math


def number_in(low: float, high: float, *, kind=float, low_open: bool = False):
    """An argparse type: a finite number in [low, high] (or (low, high] with ``low_open``).
    Infinite bounds mean "any finite number" (the range is checked elsewhere, and said there)."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
        too_low = value <= low if low_open else value < low
        if not math.isfinite(value) or too_low or value > high:
            bound = f"more than {low:g}" if low_open else f"at least {low:g}"
            in_range = f", {bound} and at most {high:g}" if math.isfinite(low) and math.isfinite(high) else ""
            raise argparse.ArgumentTypeError(f"{text!r} must be a finite number{in_range}")
        return value

    return parse

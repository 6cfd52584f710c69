"""What the intensity buttons (1-5) change: pressure and roller speed, never the program's shape.

Program pressures are written for intensity 5 and scaled *proportionally*: a multiplication by
one positive factor keeps foot > calf > thigh, so the wave still pushes toward the heart at
every setting (the 5-10 mmHg steps shrink with the pressure, the order does not). Intensity
never raises a pressure above what the program (validated against the limits) asked for.

Roller speeds are duty fractions 0..1 in bands that feel like the guide's strokes: gliding is
slow, kneading moderate, friction fast and short.
"""

from __future__ import annotations

from collections.abc import Mapping

INTENSITIES = (1, 2, 3, 4, 5)

_PRESSURE_FACTOR = {1: 0.6, 2: 0.7, 3: 0.8, 4: 0.9, 5: 1.0}

# pattern -> (speed at intensity 1, speed at intensity 5); linear in between
_ROLLER_SPEED = {
    "glide": (0.25, 0.45),  # effleurage: long, slow, one way
    "knead": (0.35, 0.65),  # petrissage
    "friction": (0.60, 0.95),  # small deep circles: fast, short oscillation
    "off": (0.0, 0.0),
}

# pattern -> seconds between direction reversals; None = steady, one direction
_ROLLER_PERIOD_S = {
    "glide": None,
    "knead": 2.0,
    "friction": 0.4,
    "off": None,
}


def _check(intensity: int) -> int:
    if isinstance(intensity, bool) or intensity not in _PRESSURE_FACTOR:
        raise ValueError(f"intensity must be one of 1-5, got {intensity!r}")
    return intensity


def pressure_factor(intensity: int) -> float:
    """The fraction of the program's (intensity 5) pressures used at ``intensity``."""
    return _PRESSURE_FACTOR[_check(intensity)]


def scaled_pressure_mmhg(pressure_mmhg: Mapping[str, float], intensity: int) -> dict[str, float]:
    """A compression spec's pressures at ``intensity`` (same keys, same order)."""
    factor = pressure_factor(intensity)
    return {chamber: p * factor for chamber, p in pressure_mmhg.items()}


def roller_speed(pattern: str, intensity: int) -> float:
    """Motor duty 0..1 for a roller pattern at ``intensity``."""
    if pattern not in _ROLLER_SPEED:
        raise ValueError(f"unknown roller pattern {pattern!r}")
    low, high = _ROLLER_SPEED[pattern]
    return low + (high - low) * (_check(intensity) - 1) / 4


def roller_period_s(pattern: str) -> float | None:
    """How often the rollers reverse: knead every ~2 s, friction every ~0.4 s, glide never."""
    if pattern not in _ROLLER_PERIOD_S:
        raise ValueError(f"unknown roller pattern {pattern!r}")
    return _ROLLER_PERIOD_S[pattern]

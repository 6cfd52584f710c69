"""Rollers: glide, knead and friction strokes, always started and stopped softly.

Why every change of speed is ramped (``roller_control.ramp_per_s``), reversals included: a gear
motor slammed from one direction to the other jerks the leg it presses on and draws its stall
current, which the safety layer would rightly read as a jam. So a reversal runs down through
zero and up the other way. The safety gate may still cut a roller to 0 at once; that is a stop,
not a stroke.

The patterns (speeds and reversal periods come from ``programs.intensity``):

- ``glide``: steady, toward the heart (effleurage: "always stroke toward the heart"). Which
  motor direction that is depends on how the roller is mounted: the board's
  ``roller_toward_heart`` (or a roller's own ``toward_heart``) says;
- ``knead``: reverses every ``roller_period_s`` (petrissage);
- ``friction``: reverses every fraction of a second. The ramp limits how far the speed gets
  before each reversal (``ramp_per_s`` × half a period), so friction is a small fast
  oscillation by construction; its swing is scaled into that reach (intensity 5 uses all of
  it, lower intensities proportionally less) so that the speed settles at each end of the
  swing: a swing the ramp never completes would keep whatever offset it started with.

A reversing pattern's first stroke lasts half a period and every later one a whole period, so
the oscillation is centred on zero: starting from rest, a whole first period would ramp up
further than the later reversals ramp down (friction would swing 0..+0.8 and never reverse).
A new pattern restarts its reversal clock; the same spec again keeps it, so a repeated
``set_program`` does not jolt the stroke.
"""

from __future__ import annotations

import math

from controller.model.config import MachineConfig
from programs.intensity import roller_period_s, roller_speed  # the programs package owns them


class RollerController:
    """``set_program`` / ``set_intensity`` from the runner, ``step(now_s)`` every fast tick."""

    def __init__(self, config: MachineConfig) -> None:
        self.ramp_per_s = config.roller_control.ramp_per_s
        self._position_of = {r.zone: r.position for r in config.rollers}
        self._toward_heart = {r.zone: config.toward_heart_sign(r.zone) for r in config.rollers}
        self._speed = {r.zone: 0.0 for r in config.rollers}
        self._spec = None
        self._intensity = 5
        self._started_s = 0.0
        self._last_s: float | None = None
        self._spared: frozenset[str] = frozenset()  # rollers the person's profile keeps still

    def set_spared(self, zones: frozenset[str]) -> None:
        """Rollers on a leg the profile spares (a wound): they stay still."""
        self._spared = frozenset(zones)

    def set_program(self, spec, intensity: int, now_s: float) -> None:
        """A phase's rollers (None or "off": ramp to a stop)."""
        self._intensity = intensity
        if spec is None or spec.pattern == "off":
            self._spec = None
            return
        if spec != self._spec:
            self._spec = spec
            self._started_s = now_s

    def set_intensity(self, intensity: int) -> None:
        self._intensity = intensity

    def stop(self) -> None:
        """Ramp every roller down to a standstill."""
        self._spec = None

    @property
    def speeds(self) -> dict[str, float]:
        return dict(self._speed)

    def targets(self, now_s: float) -> dict[str, float]:
        """The speed each roller is heading for (before the ramp)."""
        spec = self._spec
        if spec is None:
            return {zone: 0.0 for zone in self._speed}
        speed = roller_speed(spec.pattern, self._intensity)
        period_s = roller_period_s(spec.pattern)
        direction = 1.0
        if period_s:  # a swing the ramp can complete (docstring): scaled, keeps the intensity order
            speed *= min(1.0, self.ramp_per_s * period_s / 2 / roller_speed(spec.pattern, 5))
            # the first stroke half a period, then whole periods: centred on zero (docstring)
            strokes = math.floor(max(0.0, now_s - self._started_s) / period_s + 0.5)
            direction = -1.0 if strokes % 2 else 1.0
        heart = self._toward_heart
        return {zone: (direction * heart[zone] * speed if position in spec.positions and zone not in self._spared
                       else 0.0)
                for zone, position in self._position_of.items()}

    def step(self, now_s: float) -> dict[str, float]:
        dt_s = 0.0 if self._last_s is None else max(0.0, now_s - self._last_s)
        self._last_s = now_s
        max_change = self.ramp_per_s * dt_s
        for zone, target in self.targets(now_s).items():
            current = self._speed[zone]
            change = min(max_change, max(-max_change, target - current))
            self._speed[zone] = max(-1.0, min(1.0, current + change))
        return dict(self._speed)

"""Roller gear-motor physics: speed with a first-order lag, current from torque demand.

Speed is a fraction of the 12 V free speed (signed: direction). Under the leg the roller
settles at command × (1 − load): the load acts like drag that grows with the drive. The
current is what the INA219 sees, in A, and it tracks the torque the motor is making:

    torque demand = 1 − speed/command   (0 spinning freely, 1 held still; clipped to 0..1)
    current_a     = |command| × (no_load + (stall − no_load) × torque demand)

so a free-running roller draws ~|command| × (no_load + (stall − no_load) × load), a roller
starting up or jammed draws stall current × |command| (PWM scales the average), and an
unpowered motor draws nothing. Reversing at speed briefly draws up to stall × |command|.
"""

from __future__ import annotations

import math

from sim.params import MotorParams


class RollerPhysics:
    """One roller motor. `speed` (−1..1 of free speed) and `current_a` (≥ 0) after each step."""

    def __init__(self, params: MotorParams) -> None:
        self.params = params
        self._tau_s = params.speed_time_constant_s
        self._no_load_a = params.no_load_current_a
        self._stall_a = params.stall_current_a
        # Instance copy so a scenario can make the leg heavier or lighter mid-run.
        self.load_torque_fraction: float = params.load_torque_fraction
        self.speed: float = 0.0
        self.current_a: float = 0.0
        self._cached_dt_s = -1.0
        self._k = 0.0

    @property
    def speed_rpm(self) -> float:
        """Signed output-shaft speed, rpm."""
        return self.speed * self.params.free_speed_rpm

    def step(self, dt_s: float, command: float, powered: bool, stalled: bool) -> None:
        """Advance dt_s seconds with signed PWM duty `command` (−1..1).

        powered: the master relay feeds the H-bridge. stalled: the roller is mechanically
        jammed (fault injection or trapped fabric) and cannot turn.
        """
        if dt_s <= 0.0:
            return
        if dt_s != self._cached_dt_s:
            self._k = 1.0 - math.exp(-dt_s / self._tau_s)
            self._cached_dt_s = dt_s
        cmd = -1.0 if command <= -1.0 else 1.0 if command >= 1.0 else command
        if not powered:
            cmd = 0.0

        if stalled:
            self.speed = 0.0  # a jam stops the roller dead
        else:
            target = cmd * (1.0 - self.load_torque_fraction)
            self.speed += (target - self.speed) * self._k  # coasts down with the same lag

        if cmd == 0.0:
            self.current_a = 0.0
            return
        demand = 1.0 - self.speed / cmd
        demand = 0.0 if demand <= 0.0 else 1.0 if demand >= 1.0 else demand
        magnitude = cmd if cmd > 0.0 else -cmd
        self.current_a = magnitude * (self._no_load_a + (self._stall_a - self._no_load_a) * demand)

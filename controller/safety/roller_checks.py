"""Roller interlock: current over the limit (or near stall) for the configured time."""

from __future__ import annotations

from controller.model.config import MachineConfig
from controller.model.faults import Fault
from controller.model.readings import Readings
from controller.safety.context import NAN, ZoneNames, fmt_g, Powered


class RollerCurrent:
    """Jams and stalls, from the roller's current (INA219), each held ``roller_overcurrent_s``
    (200 ms; start-up inrush and soft reversals are shorter) → ``roller_overcurrent``:

    - over ``roller_current_limit_a`` (1.5 A) at any duty: a hard jam at high speed;
    - at or above ``roller_stall_ratio`` (0.8) of the motor's stall current *at the written
      duty* (``board.roller_stall_current_a`` × |duty|, duty ≥ 0.15): a DC motor's current at a
      given PWM duty rises toward stall current × duty as it slows, so a roller stalled at half
      speed draws well under the absolute limit but is still caught.
    """

    MIN_DUTY = 0.15  # below this the stall current is too small to tell from a free motor

    def __init__(self, config: MachineConfig, names: ZoneNames) -> None:
        self.limits = config.limits
        self.stall_a = config.board.roller_stall_current_a
        self.rollers = config.roller_names
        self.names = names
        self._over: dict[str, float] = {}  # roller -> first tick of its present over-current

    def check(self, readings: Readings, powered: Powered, now_s: float) -> list[Fault]:
        lim = self.limits
        limit_a, hold_s = lim.roller_current_limit_a, lim.roller_overcurrent_s
        stall_ratio_a = lim.roller_stall_ratio * self.stall_a  # × duty: the stall limit in A
        relay, speeds = powered.relay, powered.out.roller_speed
        currents = readings.roller_current_a
        since = self._over
        faults = []
        for roller in self.rollers:
            amps = abs(currents.get(roller, NAN))
            duty = abs(speeds.get(roller, 0.0)) if relay else 0.0
            stalled = duty >= self.MIN_DUTY and amps >= stall_ratio_a * duty
            if not (amps > limit_a or stalled):
                if roller in since:
                    del since[roller]
                continue
            held = now_s - since.setdefault(roller, now_s)
            if held >= hold_s:
                if amps > limit_a:
                    why = f"over the {fmt_g(limit_a)} A limit"
                else:
                    why = f"{amps / (self.stall_a * duty):.0%} of stall current at {duty:.0%} duty"
                faults.append(Fault.make(
                    "roller_overcurrent", roller, now_s,
                    f"{self.names.roller(roller)}: drawing {amps:.2f} A, {why} for {held:.2f} s: jammed or stalled?",
                    {"current_a": amps, "duty": duty, "limit_a": limit_a, "held_s": held}))
        return faults

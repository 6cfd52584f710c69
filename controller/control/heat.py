"""Heat pads: one PID loop per pad on its primary (thermistor) sensor, run at the slow rate.

Why a pad without a target is reset rather than merely given duty 0: a loop left running
toward nothing would remember an integral (or a derivative of a stale reading) and greet the
next warm-up with the wrong duty. Why a missing or NaN reading gives 0 here too: the heater
must never run on a guess; the safety layer decides whether the lost sensor is a fault.

The duty is limited to ``HeatControl.max_duty``; the target is whatever the runner gives (it
has already been held to the safety limit), and the safety gate still has the last word.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from controller.model.config import HeatControl
from controller.control.pid import Pid

Gains = tuple[float, float, float]


class HeatController:
    """``step(temps_c, targets_c, now_s) -> {pad: duty}`` for every pad, every slow tick."""

    def __init__(self, pads: list[str], gains: Mapping[str, Gains], heat_cfg: HeatControl) -> None:
        default = (heat_cfg.kp, heat_cfg.ki, heat_cfg.kd)
        self.pads = list(pads)
        self._loops: dict[str, Pid] = {}
        for pad in self.pads:
            kp, ki, kd = gains.get(pad, default)
            self._loops[pad] = Pid(kp, ki, kd, derivative_filter_s=heat_cfg.derivative_filter_s,
                                   out_min=0.0, out_max=heat_cfg.max_duty)

    def gains(self, pad: str) -> Gains:
        loop = self._loops[pad]
        return loop.kp, loop.ki, loop.kd

    def set_gains(self, pad: str, kp: float, ki: float, kd: float) -> None:
        """New gains (an autotune result) apply from the next step, without a bump."""
        if pad not in self._loops:
            raise KeyError(f"unknown pad {pad!r} (known: {', '.join(self.pads)})")
        self._loops[pad].set_gains(kp, ki, kd)

    def step(self, temps_c: Mapping[str, float], targets_c: Mapping[str, float | None],
             now_s: float) -> dict[str, float]:
        duty: dict[str, float] = {}
        for pad, loop in self._loops.items():
            target = targets_c.get(pad)
            if target is None or not math.isfinite(target):
                loop.reset()
                duty[pad] = 0.0
                continue
            temp = temps_c.get(pad, math.nan)
            duty[pad] = loop.update(temp, target, now_s)  # NaN reading -> 0, state kept
        return duty

"""Heat pads: one control law per pad on its primary (thermistor) sensor, run at the slow rate.

A pad's own law is a PID toward the runner's target. For a while another law may drive it
instead — a relay autotune — swapped in and out as Klipper's heaters.py does with
``set_control`` for ``PID_CALIBRATE``: the swapped-in law gets the same thermal ticks, and the
pad's PID is back (reset) as soon as that law finishes, fails, or is called off.

Why a pad without a target is reset rather than merely given duty 0: a loop left running
toward nothing would remember an integral (or a derivative of a stale reading) and greet the
next warm-up with the wrong duty. Why a missing or NaN reading gives 0 here too: the heater
must never run on a guess; the safety layer decides whether the lost sensor is a fault.

The duty is limited to ``HeatControl.max_duty``; the target is whatever the runner gives (it
has already been held to the safety limit), and the safety gate still has the last word.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Protocol

from controller.model.config import HeatControl
from controller.control.pid import Pid

Gains = tuple[float, float, float]


class ControlLaw(Protocol):
    """What drives one pad: its reading and the runner's target in, a duty out, every slow tick."""

    def update(self, temp_c: float, target_c: float | None, now_s: float) -> float: ...

    @property
    def finished(self) -> bool:
        """True once a temporary law is done with the pad (it is then handed back to its PID)."""
        ...


class PidControl:
    """A pad's own law: its PID toward the runner's target; no target → reset and duty 0."""

    finished = False  # never: this is the law a pad returns to

    def __init__(self, pid: Pid) -> None:
        self.pid = pid

    def update(self, temp_c: float, target_c: float | None, now_s: float) -> float:
        if target_c is None or not math.isfinite(target_c):
            self.pid.reset()
            return 0.0
        return self.pid.update(temp_c, target_c, now_s)  # NaN reading -> 0, state kept


class HeatController:
    """``step(temps_c, targets_c, now_s) -> {pad: duty}`` for every pad, every slow tick.

    ``duty`` holds the last step's duties until the next one (the fast ticks between thermal
    ticks write the held value)."""

    def __init__(self, pads: list[str], gains: Mapping[str, Gains], heat_cfg: HeatControl) -> None:
        default = (heat_cfg.kp, heat_cfg.ki, heat_cfg.kd)
        self.pads = list(pads)
        self.max_duty = heat_cfg.max_duty
        self._pid: dict[str, PidControl] = {}
        for pad in self.pads:
            kp, ki, kd = gains.get(pad, default)
            self._pid[pad] = PidControl(Pid(kp, ki, kd, derivative_filter_s=heat_cfg.derivative_filter_s,
                                            out_min=0.0, out_max=heat_cfg.max_duty))
        self._control: dict[str, ControlLaw] = dict(self._pid)
        self.duty: dict[str, float] = dict.fromkeys(self.pads, 0.0)

    def gains(self, pad: str) -> Gains:
        pid = self._pid[pad].pid
        return pid.kp, pid.ki, pid.kd

    def set_gains(self, pad: str, kp: float, ki: float, kd: float) -> None:
        """New gains (an autotune result) apply from the next step, without a bump."""
        self._known(pad)
        self._pid[pad].pid.set_gains(kp, ki, kd)

    # ------------------------------------------------------------------ the control swap
    def control(self, pad: str) -> ControlLaw:
        """The law driving ``pad`` now."""
        return self._control[self._known(pad)]

    def set_control(self, pad: str, law: ControlLaw) -> ControlLaw:
        """Let ``law`` drive ``pad`` from the next slow tick; return the law it replaces (its PID).

        One temporary law at a time: a pad already under one refuses another. The held duty
        drops to 0 at once — no law starts from the duty another one asked for."""
        current = self._control[self._known(pad)]
        if current is not self._pid[pad]:
            raise RuntimeError(f"{pad} is already under another control law")
        self._control[pad] = law
        self.duty[pad] = 0.0
        return current

    def restore_control(self, pads: Iterable[str] | None = None) -> None:
        """Hand ``pads`` (default: every pad) back to their PIDs, reset, holding duty 0 until
        the next slow tick: a temporary law called off (a stop, a fault) leaves no heat behind."""
        for pad in self.pads if pads is None else pads:
            if self._control[self._known(pad)] is not self._pid[pad]:
                self._control[pad] = self._pid[pad]
                self._pid[pad].pid.reset()
                self.duty[pad] = 0.0

    # ------------------------------------------------------------------ the slow tick
    def step(self, temps_c: Mapping[str, float], targets_c: Mapping[str, float | None],
             now_s: float, pads: Iterable[str] | None = None) -> dict[str, float]:
        """Step every pad's control law, or only ``pads`` (the board reads the pads in rotation:
        each steps on a tick that read it); the others hold their duty."""
        duty: dict[str, float] = dict(self.duty)
        for pad in self.pads if pads is None else pads:
            law = self._control[pad]
            duty[pad] = law.update(temps_c.get(pad, math.nan), targets_c.get(pad), now_s)
            if law.finished:  # done or failed: its PID takes the pad back, from duty 0
                self.restore_control((pad,))
                duty[pad] = 0.0
        self.duty = dict(duty)
        return duty

    def cut_untargeted(self, targets_c: Mapping[str, float | None]) -> None:
        """Every tick, not only the slow ones: a pad under its PID whose target is gone (a stop,
        a fault, heat switched off) holds duty 0 from this tick on, instead of its last duty
        until the next thermal tick. A temporary law (autotune) has no runner target and is
        left alone; it is called off through ``restore_control``."""
        for pad, law in self._control.items():
            if law is self._pid[pad] and self.duty[pad] != 0.0:
                target = targets_c.get(pad)
                if target is None or not math.isfinite(target):
                    self.duty[pad] = 0.0
                    law.pid.reset()

    def _known(self, pad: str) -> str:
        if pad not in self._pid:
            raise KeyError(f"unknown pad {pad!r} (known: {', '.join(self.pads)})")
        return pad

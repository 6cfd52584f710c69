"""Turns validated commands into machine actions, each with a result a person understands.

Runs inside the scan tick (commands are drained at the top of each tick), so a command takes
effect on the same tick's outputs. Long technician operations (self-test, autotune, pressure
calibration) run as one service task beside the scan cycle and answer when they finish.

The handler is given the parts it acts on (runner, fault latch, overrides, controllers, ...),
never the supervisor, so what a command can touch is written in its constructor.
"""

from __future__ import annotations

import asyncio
import logging

from controller.control.compression import CompressionController
from controller.control.rollers import RollerController
from controller.control.runner import PAUSED, RUNNING, Runner
from controller.machine.hub import MachineHub
from controller.machine.technician import Technician
from controller.model import commands as c
from controller.model.commands import CommandResult
from controller.model.config import MachineConfig
from controller.model.faults import Severity
from controller.model.manual import ManualOverrides, ManualTarget
from controller.model.readings import Readings
from controller.safety.latch import FaultLatch
from controller.safety.monitor import SafetyMonitor

log = logging.getLogger("legtherapy.commands")


class CommandHandler:
    def __init__(self, *, config: MachineConfig, hub: MachineHub, runner: Runner, latch: FaultLatch,
                 safety: SafetyMonitor, compression: CompressionController, rollers: RollerController,
                 manual: ManualOverrides, technician: Technician, sim=None) -> None:
        self.config = config
        self.hub = hub
        self.runner = runner
        self.latch = latch
        self.safety = safety  # asked whether a fault's cause is gone (acknowledge)
        self.compression = compression  # and rollers: a new intensity applies at once
        self.rollers = rollers
        self.manual = manual
        self.technician = technician
        self.sim = sim  # the simulator, for injected faults (None on real hardware)
        self._readings: Readings | None = None

    def process_pending(self, now: float, readings: Readings) -> int:
        """Handle every queued command against this tick's ``readings``; return how many (the
        state is re-published at once)."""
        self._readings = readings
        queue = self.hub.commands
        handled = 0
        while not queue.empty():
            handled += 1
            pending = queue.get_nowait()
            if pending.future.done():  # the sender gave up waiting
                continue
            try:
                result = self.handle(pending.command, pending.source, now)
            except Exception as err:  # a bug must not take the scan cycle down
                log.exception("command %r failed", pending.command)
                result = CommandResult.refused(pending.command, f"internal error: {err}")
            if isinstance(result, CommandResult):
                outcome = "accepted" if result.ok else f"refused: {result.error}"
            else:
                outcome = "started"
            log.info("command %s from %s%s: %s", pending.command.command, pending.source.value,
                     f" ({pending.peer})" if pending.peer else "", outcome)
            if isinstance(result, asyncio.Future):
                result.add_done_callback(lambda f, p=pending: p.future.done() or p.future.set_result(f.result()))
            elif not pending.future.done():
                pending.future.set_result(result)
        return handled

    def handle(self, cmd, source, now: float):
        runner = self.runner
        latch = self.latch
        if isinstance(cmd, c.Start):
            blocking = [f for f in latch.active() if f.severity is not Severity.WARNING]
            if latch.has_lockout:
                return CommandResult.refused(cmd, "locked out: " + blocking[0].message + " — a technician must reset it")
            if blocking:
                return CommandResult.refused(cmd, "fault active: " + blocking[0].message + " — acknowledge it first")
            if self.technician.busy:
                return CommandResult.refused(cmd, "a technician operation is running")
            self.manual.clear()
            ok, reason, notes = runner.start(cmd.program, cmd.intensity, cmd.heat, now, preheat=cmd.preheat)
            if not ok:
                return CommandResult.refused(cmd, reason)
            return CommandResult.accepted(cmd, {"intensity": runner.intensity, "notes": notes} if notes else None)
        if isinstance(cmd, c.Pause):
            if source is c.Source.PANEL and runner.mode == RUNNING:
                # the one button at hand: it ends a press-and-hold or the pre-heat before it pauses
                if self.compression.release_hold():
                    return CommandResult.accepted(cmd, {"note": "hold released"})
                if runner.preheating:
                    return self._result(cmd, runner.skip_preheat(now))
            return self._result(cmd, runner.pause(now))
        if isinstance(cmd, c.ReleaseHold):
            if runner.mode != RUNNING or not self.compression.release_hold():
                return CommandResult.refused(cmd, "nothing is being held: release_hold ends a press-and-hold")
            return CommandResult.accepted(cmd, {"note": "hold released"})
        if isinstance(cmd, c.SkipPreheat):
            return self._result(cmd, runner.skip_preheat(now))
        if isinstance(cmd, c.Resume):
            return self._result(cmd, runner.resume(now))
        if isinstance(cmd, c.Stop):
            if runner.mode not in (RUNNING, PAUSED):
                self.manual.clear()
                if self.technician.cancel("a stop command"):
                    return CommandResult.accepted(cmd, {"note": "technician operation stopped; outputs are off"})
                return CommandResult.accepted(cmd, {"note": f"nothing running ({runner.mode}); outputs are off"})
            return self._result(cmd, runner.stop(now))
        if isinstance(cmd, c.SetIntensity):
            applied, notes = runner.set_intensity(cmd.intensity)
            self.compression.set_intensity(applied)
            self.rollers.set_intensity(applied)
            return CommandResult.accepted(cmd, {"intensity": applied, "notes": notes} if notes else None)
        if isinstance(cmd, c.SetHeat):
            runner.heat_on = cmd.on
            return CommandResult.accepted(cmd)
        if isinstance(cmd, c.SetProfile):
            flags = cmd.model_dump(exclude={"command", "id"})
            problems = runner.set_profile(**flags)
            if problems:
                runner.stop(now, "; ".join(problems))
                return CommandResult.accepted(cmd, {"note": "session stopped: " + "; ".join(problems)})
            self.compression.set_intensity(runner.intensity)
            self.rollers.set_intensity(runner.intensity)
            return CommandResult.accepted(cmd, {"profile": runner.profile.model_dump()})
        if isinstance(cmd, c.Ack):
            return self._ack(cmd, now)
        if isinstance(cmd, c.ResetLockout):
            if not latch.has_lockout:
                return CommandResult.refused(cmd, "no lockout to reset")
            latch.reset_lockout(by=source.value)
            return self._ack(cmd, now)
        if isinstance(cmd, c.Manual):
            return self._manual(cmd)
        if isinstance(cmd, c.SimInject):
            if self.sim is None:
                return CommandResult.refused(cmd, "not running on the simulator: start with legtherapy run --sim")
            try:
                inj = self.sim.inject_now(cmd.fault, cmd.zone)
            except ValueError as err:
                return CommandResult.refused(cmd, str(err))
            return CommandResult.accepted(cmd, {"fault": inj.name, "zone": inj.zone})
        if isinstance(cmd, (c.SelfTest, c.CalibratePressure, c.Autotune)):
            return self._service(cmd)
        return CommandResult.refused(cmd, f"command {cmd.command!r} is not supported")

    @staticmethod
    def _result(cmd, error: str | None) -> CommandResult:
        return CommandResult.refused(cmd, error) if error else CommandResult.accepted(cmd)

    def _ack(self, cmd, now: float) -> CommandResult:
        readings = self._readings
        latch = self.latch
        cleared, kept = latch.acknowledge(lambda f: readings is not None and self.safety.cause_gone(f, readings, now))
        for fault in cleared:
            self.hub.publish_event({"type": "fault_cleared", "t_s": round(now, 3), "code": fault.code, "zone": fault.zone})
        blocking = [f for f in latch.active() if f.severity is not Severity.WARNING]
        if not blocking:
            self.runner.clear_fault()
            return CommandResult.accepted(cmd, {"cleared": [f.code for f in cleared]})
        reasons = [f"{f.code}: {why}" for f, why in kept] or [f.message for f in blocking]
        return CommandResult.refused(cmd, "still active: " + "; ".join(reasons))

    def _manual(self, cmd) -> CommandResult:
        if self.runner.mode in (RUNNING, PAUSED):
            return CommandResult.refused(cmd, "a session is running: stop it before driving outputs by hand")
        cfg = self.config
        try:
            target = ManualTarget.parse(cmd.output, pads=cfg.pad_names, chambers=cfg.chamber_names,
                                        rollers=cfg.roller_names)
        except ValueError as err:
            return CommandResult.refused(cmd, str(err))
        if cmd.value is None:
            self.manual.release(target)
            return CommandResult.accepted(cmd, {"released": str(target)})
        try:
            self.manual.set(target, cmd.value)
        except ValueError as err:
            return CommandResult.refused(cmd, str(err))
        return CommandResult.accepted(cmd, {"output": str(target), "value": cmd.value,
                                            "note": "still gated by the interlocks"})

    def _service(self, cmd):
        if self.runner.mode in (RUNNING, PAUSED):
            return CommandResult.refused(cmd, "a session is running: stop it first")
        if self.technician.busy:
            return CommandResult.refused(cmd, "another technician operation is running")
        if self.latch.has_lockout:
            return CommandResult.refused(cmd, "locked out: reset the lockout first")
        return self.technician.start(cmd)

"""Turns validated commands into machine actions, each with a result a person understands.

Runs inside the scan tick (commands are drained at the top of each tick), so a command takes
effect on the same tick's outputs. Long technician operations (self-test, autotune, pressure
calibration) run as one service task beside the scan cycle and answer when they finish.
"""

from __future__ import annotations

import asyncio
import logging

from controller.model import commands as c
from controller.model.commands import CommandResult
from controller.model.faults import Severity
from controller.control.runner import PAUSED, RUNNING

log = logging.getLogger("legtherapy.commands")


class CommandHandler:
    def __init__(self, supervisor) -> None:
        self.sup = supervisor

    def process_pending(self, now: float) -> int:
        """Handle every queued command; return how many (the state is re-published at once)."""
        queue = self.sup.hub.commands
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
        sup = self.sup
        runner = sup.runner
        if isinstance(cmd, c.Start):
            blocking = [f for f in sup.latch.active() if f.severity is not Severity.WARNING]
            if sup.latch.has_lockout:
                return CommandResult.refused(cmd, "locked out: " + blocking[0].message + " — a technician must reset it")
            if blocking:
                return CommandResult.refused(cmd, "fault active: " + blocking[0].message + " — acknowledge it first")
            if sup.service_task is not None and not sup.service_task.done():
                return CommandResult.refused(cmd, "a technician operation is running")
            sup.manual.clear()
            ok, reason, notes = runner.start(cmd.program, cmd.intensity, cmd.heat, now)
            if not ok:
                return CommandResult.refused(cmd, reason)
            return CommandResult.accepted(cmd, {"intensity": runner.intensity, "notes": notes} if notes else None)
        if isinstance(cmd, c.Pause):
            return self._result(cmd, runner.pause(now))
        if isinstance(cmd, c.Resume):
            return self._result(cmd, runner.resume(now))
        if isinstance(cmd, c.Stop):
            if runner.mode not in (RUNNING, PAUSED):
                sup.manual.clear()
                return CommandResult.accepted(cmd, {"note": f"nothing running ({runner.mode}); outputs are off"})
            return self._result(cmd, runner.stop(now))
        if isinstance(cmd, c.SetIntensity):
            applied, notes = runner.set_intensity(cmd.intensity)
            sup.compression.set_intensity(applied)
            sup.rollers.set_intensity(applied)
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
            sup.compression.set_intensity(runner.intensity)
            sup.rollers.set_intensity(runner.intensity)
            return CommandResult.accepted(cmd, {"profile": runner.profile.model_dump()})
        if isinstance(cmd, c.Ack):
            return self._ack(cmd, now)
        if isinstance(cmd, c.ResetLockout):
            if not sup.latch.has_lockout:
                return CommandResult.refused(cmd, "no lockout to reset")
            sup.latch.reset_lockout(by=source.value)
            return self._ack(cmd, now)
        if isinstance(cmd, c.Manual):
            return self._manual(cmd)
        if isinstance(cmd, c.SimInject):
            if sup.sim is None:
                return CommandResult.refused(cmd, "not running on the simulator: start with legtherapy run --sim")
            try:
                inj = sup.sim.inject_now(cmd.fault, cmd.zone)
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
        sup = self.sup
        readings = sup.last_readings
        cleared, kept = sup.latch.acknowledge(lambda f: readings is not None and sup.safety.cause_gone(f, readings, now))
        for fault in cleared:
            sup.hub.publish_event({"type": "fault_cleared", "t_s": round(now, 3), "code": fault.code, "zone": fault.zone})
        blocking = [f for f in sup.latch.active() if f.severity is not Severity.WARNING]
        if not blocking:
            sup.runner.clear_fault()
            return CommandResult.accepted(cmd, {"cleared": [f.code for f in cleared]})
        reasons = [f"{f.code}: {why}" for f, why in kept] or [f.message for f in blocking]
        return CommandResult.refused(cmd, "still active: " + "; ".join(reasons))

    def _manual(self, cmd) -> CommandResult:
        sup = self.sup
        if sup.runner.mode in (RUNNING, PAUSED):
            return CommandResult.refused(cmd, "a session is running: stop it before driving outputs by hand")
        name = cmd.output.replace(".", ":")
        kind, _, zone = name.partition(":")
        zones = {"heater": sup.config.pad_names, "fill": sup.config.chamber_names, "vent": sup.config.chamber_names,
                 "roller": sup.config.roller_names, "pump": [""]}
        if kind not in zones or zone not in zones[kind]:
            known = ["pump"] + [f"{k}:{z}" for k in ("heater", "fill", "vent", "roller") for z in zones[k]]
            return CommandResult.refused(cmd, f"unknown output {cmd.output!r} (known: {', '.join(known)})")
        if cmd.value is None:
            sup.manual.pop(name, None)
            return CommandResult.accepted(cmd, {"released": name})
        lo = -1.0 if kind == "roller" else 0.0
        if not lo <= cmd.value <= 1.0:
            return CommandResult.refused(cmd, f"value {cmd.value} out of range {lo:g}..1 for {name}")
        sup.manual[name] = cmd.value
        return CommandResult.accepted(cmd, {"output": name, "value": cmd.value, "note": "still gated by the interlocks"})

    def _service(self, cmd):
        sup = self.sup
        if sup.runner.mode in (RUNNING, PAUSED):
            return CommandResult.refused(cmd, "a session is running: stop it first")
        if sup.service_task is not None and not sup.service_task.done():
            return CommandResult.refused(cmd, "another technician operation is running")
        if sup.latch.has_lockout:
            return CommandResult.refused(cmd, "locked out: reset the lockout first")
        from controller.machine import technician as service

        op = {c.SelfTest: service.selftest, c.CalibratePressure: service.calibrate_pressure,
              c.Autotune: service.autotune}[type(cmd)]
        loop = asyncio.get_running_loop()
        result_future = loop.create_future()

        async def run():
            try:
                result = await op(sup, cmd)
            except asyncio.CancelledError:
                result = CommandResult.refused(cmd, "interrupted by a fault or shutdown")
            except Exception as err:
                log.exception("technician operation failed")
                result = CommandResult.refused(cmd, f"failed: {err}")
            finally:
                sup.manual.clear()
            if not result_future.done():
                result_future.set_result(result)

        sup.service_task = loop.create_task(run())
        return result_future

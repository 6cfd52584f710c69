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
from controller.machine.notices import NoticeBoard
from controller.machine.profile_keeper import ProfileKeeper, ProfileOutcome
from controller.machine.technician import Technician
from controller.model import commands as c
from controller.model.commands import CommandResult
from controller.model.config import MachineConfig
from controller.model.faults import Severity
from controller.model.manual import ManualOverrides, ManualTarget
from controller.model.notice import NoticeCode
from controller.model.profile import describe_key
from controller.model.readings import Readings
from controller.safety.latch import FaultLatch
from controller.safety.monitor import SafetyMonitor

log = logging.getLogger("legtherapy.commands")


class CommandHandler:
    def __init__(self, *, config: MachineConfig, hub: MachineHub, runner: Runner, latch: FaultLatch,
                 safety: SafetyMonitor, compression: CompressionController, rollers: RollerController,
                 manual: ManualOverrides, technician: Technician, profiles: ProfileKeeper, notices: NoticeBoard,
                 sim=None) -> None:
        self.config = config
        self.hub = hub
        self.runner = runner
        self.latch = latch
        self.safety = safety  # asked whether a fault's cause is gone (acknowledge)
        self.compression = compression  # and rollers: a new intensity applies at once
        self.rollers = rollers
        self.manual = manual
        self.technician = technician
        self.profiles = profiles  # who may change the person's profile, and its record on disk
        self.notices = notices  # refusals and caps, told to the person
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
            self.notices.clear_session_notices()
            blocked = self.profiles.start_refusal()
            if blocked is not None:
                self.notices.post([blocked], now)
                return CommandResult.refused(cmd, blocked.text)
            program = cmd.program or runner.selected_program
            if program is None:
                return CommandResult.refused(cmd, "no program chosen: name one, or choose one with select_program")
            # what the command leaves out stays as the person set it on the machine
            intensity = runner.intensity if cmd.intensity is None else cmd.intensity
            heat = runner.heat_on if cmd.heat is None else cmd.heat
            self.manual.clear()
            ok, reason, notes = runner.start(program, intensity, heat, now, preheat=cmd.preheat)
            if runner.last_decision is not None:  # refused: only why (no cap applies to what never ran)
                self.notices.post([n for n in runner.last_decision.notices
                                   if ok or n.code == NoticeCode.PROGRAM_REFUSED], now)
            if not ok:
                return CommandResult.refused(cmd, reason)
            return CommandResult.accepted(cmd, {"intensity": runner.intensity, "notes": notes} if notes else None)
        if isinstance(cmd, c.SelectProgram):
            return self._select(cmd, now)
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
            if notes and runner.last_decision is not None:
                self.notices.post([n for n in runner.last_decision.notices if n.code == NoticeCode.INTENSITY_CAPPED], now)
            return CommandResult.accepted(cmd, {"intensity": applied, "notes": notes} if notes else None)
        if isinstance(cmd, c.SetHeat):
            runner.heat_on = cmd.on
            return CommandResult.accepted(cmd)
        if isinstance(cmd, c.SetProfile):
            return self._profile_changed(cmd, self.profiles.request(cmd.changes(), source, now), now)
        if isinstance(cmd, c.ConfirmProfile):
            return self._profile_changed(cmd, self.profiles.confirm(now), now)
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
        if isinstance(cmd, (c.SelfTest, c.CalibratePressure, c.Autotune, c.Commission)):
            return self._service(cmd)
        return CommandResult.refused(cmd, f"command {cmd.command!r} is not supported")

    def _select(self, cmd, now: float) -> CommandResult:
        """Choose the program the next start starts, without starting anything. During a
        session the choice is kept for the next start and the person is told so (a notice),
        instead of being refused while the chooser silently jumps back."""
        runner = self.runner
        chosen = runner.programs.get(cmd.program)
        if chosen is None:
            known = ", ".join(sorted(runner.programs))
            return CommandResult.refused(cmd, f"unknown program {cmd.program!r} (known: {known})")
        runner.selected_program = chosen.id
        running = runner.program if runner.mode.in_session else None
        if running is None or running.id == chosen.id:
            return CommandResult.accepted(cmd, {"selected_program": chosen.id})
        note = (f"{chosen.name} is chosen for the next start; {running.name} goes on "
                f"(stop it, then start, to change now)")
        self.hub.publish_event({"type": "notice", "t_s": round(now, 3), "text": note,
                                "selected_program": chosen.id})
        return CommandResult.accepted(cmd, {"selected_program": chosen.id, "note": note})

    def _profile_changed(self, cmd, outcome: ProfileOutcome, now: float) -> CommandResult:
        """After a profile request or confirmation: tell the runner, stop a session the new
        profile no longer allows, and say what was applied and what waits for the panel."""
        if not outcome.ok:
            return CommandResult.refused(cmd, outcome.error)
        keeper, runner = self.profiles, self.runner
        self.notices.post(outcome.notices, now)
        if keeper.confirmed:
            self.notices.drop(NoticeCode.PROFILE_NEEDED, NoticeCode.PROFILE_UNREADABLE)
        if keeper.pending is None:
            self.notices.drop(NoticeCode.PROFILE_CHANGE_WAITING)
        data = {"profile": keeper.profile.flags(), "confirmed": keeper.confirmed,
                "applied": list(outcome.applied), "waiting_for_confirmation": list(outcome.waiting)}
        if outcome.waiting:
            data["note"] = outcome.notices[0].text if outcome.notices else "waiting for a panel confirmation"
        elif outcome.error:
            data["note"] = outcome.error
        problems = runner.apply_profile(keeper.profile)
        if problems:
            runner.stop(now, "; ".join(problems))
            if runner.last_decision is not None:
                self.notices.post([n for n in runner.last_decision.notices if n.code == NoticeCode.PROGRAM_REFUSED], now)
            data["note"] = "session stopped: " + "; ".join(problems)
            return CommandResult.accepted(cmd, data)
        self.compression.set_intensity(runner.intensity)
        self.rollers.set_intensity(runner.intensity)
        if outcome.applied and runner.mode.in_session and runner.last_decision is not None:
            self.notices.post(runner.last_decision.notices, now)
        if outcome.applied:
            log.info("profile changed (%s): %s", ", ".join(describe_key(k) for k in outcome.applied),
                     ", ".join(describe_key(k) for k, v in keeper.profile.stored().items() if v) or "no conditions")
        return CommandResult.accepted(cmd, data)

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

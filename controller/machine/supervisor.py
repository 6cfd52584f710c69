"""The scan cycle: sense → safety → runner → controllers → gate → write → heartbeat → publish.

One task owns the board and runs the cycle at the fast rate; the thermal sensors and the heat
PID run every Nth tick. A lazy deadline timer watches the cycle itself and forces the safe state when a
tick is late (a hung bus); the hardware heartbeat relay and systemd's watchdog are the layers
beyond that. Time comes from the event loop only, so the whole machine runs under virtual time.

The supervisor builds the parts and runs the cycle; the command handler and the technician
operations are handed the parts they act on (runner, latch, overrides, heat controller, ...),
never the supervisor itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Callable, Iterable

from controller.machine.board import Board
from controller.machine.dispatch import CommandHandler
from controller.machine.notices import NoticeBoard
from controller.machine.profile_keeper import ProfileKeeper
from controller.machine.technician import Technician
from controller.control.compression import CompressionController
from controller.model.config import MachineConfig
from controller.storage.daily_record import DailyRecord
from controller.storage.fault_store import FaultStore
from controller.model.faults import Fault, Severity
from controller.model.manual import ManualOverrides
from controller.safety.latch import FaultLatch
from controller.storage.commissioning import Commissioning, load_commissioning
from controller.storage.gains import load_gains
from controller.safety.gate import NO_CUT, ZoneCut, gate
from controller.safety.profile_cut import profile_cut
from controller.model.notice import NoticeCode, make as make_notice
from controller.control.heat import HeatController
from controller.machine.hub import MachineHub
from controller.model.outputs import Outputs
from controller.model.readings import Readings
from controller.control.rollers import RollerController
from controller.control.runner import ENDED, PAUSED, RUNNING, Runner
from controller.safety.monitor import SafetyContext, SafetyMonitor
from controller.machine.snapshot import TickRecord, build_snapshot

log = logging.getLogger("legtherapy.supervisor")
SNAPSHOT_EVERY_N_TICKS = 10  # 5 Hz at 50 Hz: plenty for people and hubs; changes go out at once


class Supervisor:
    def __init__(self, config: MachineConfig, board: Board, hub: MachineHub, programs: dict,
                 *, state_dir: str, observers: Iterable[Callable[[TickRecord], None]] = (),
                 sim=None, notifier=None, require_profile_confirmation: bool = True) -> None:
        self.config = config
        self.board = board
        self.hub = hub
        self.programs = programs
        self.sim = sim
        self.notifier = notifier
        self.observers = list(observers)
        self.period_s = config.rates.period_s
        self.store = FaultStore(state_dir)
        self.latch = FaultLatch(self.store)
        self.commissioning = load_commissioning(state_dir, config.pad_names, config.chamber_names)
        self.safety = SafetyMonitor(config, self.commissioning.heating())
        self.runner = Runner(config, programs)
        # the person's profile, kept in the state directory like a lockout
        self.profiles = ProfileKeeper(state_dir, require_confirmation=require_profile_confirmation)
        self.runner.apply_profile(self.profiles.profile)
        self.notices = NoticeBoard(hub.publish_event)
        self._cut: ZoneCut = NO_CUT
        self._cut_for = None  # the profile object _cut was worked out for
        pads = config.pad_names
        default = (config.heat.kp, config.heat.ki, config.heat.kd)
        self.heat = HeatController(pads, load_gains(state_dir, pads, default), config.heat)
        self.compression = CompressionController(config)
        self.rollers = RollerController(config)
        self.state_dir = state_dir
        self._safe = Outputs.safe(pads, config.chamber_names, config.roller_names)
        self.last_outputs = self._safe
        self.last_readings: Readings | None = None
        self.heat_targets: dict[str, float | None] = {p: None for p in pads}
        self.pressure_targets = {c: 0.0 for c in config.chamber_names}
        self.manual = ManualOverrides()  # technician overrides, idle only, still gated
        self.technician = Technician(config=config, board=board, heat=self.heat, manual=self.manual,
                                     state_dir=state_dir, on_commissioned=self._commissioned)
        self.tick_count = 0
        #: wall-clock cost of recent ticks (a metric for benchmarks and status, never for control)
        self.tick_cost_s: deque[float] = deque(maxlen=100_000)
        self.seq = 0
        self.last_tick_end_s = 0.0
        self.watchdog_tripped = False
        self._watchdog_timer: asyncio.TimerHandle | None = None
        self._watchdog_armed_at = 0
        self._late_limit_s = config.limits.tick_late_periods * self.period_s
        self.ticks_done = 0
        self.stopping = asyncio.Event()
        self.session_ended = asyncio.Event()
        self._last_mode = None
        self.commands = CommandHandler(config=config, hub=hub, runner=self.runner, latch=self.latch,
                                       safety=self.safety, compression=self.compression, rollers=self.rollers,
                                       manual=self.manual, technician=self.technician, profiles=self.profiles,
                                       notices=self.notices, sim=sim)
        hub.fault_log_reader = self.fault_log
        self.daily = DailyRecord(state_dir)
        hub.history_reader = self.daily.history
        self._strokes_at_start: dict[str, int] = {}
        from programs.library import describe

        hub.program_lister = lambda: [describe(p) for p in programs.values()]

    def _commissioned(self, record: Commissioning) -> None:
        self.commissioning = record
        self.safety.set_commissioning(record.heating())

    # ------------------------------------------------------------------ lifecycle
    def start_safe(self) -> None:
        """Safe state before anything else; then load any latched lockout from disk."""
        self.board.safe_state()
        for fault in self.latch.active():
            log.warning("latched from before the restart: %s", fault.message)
        if self.latch.has_lockout:
            self.runner.fault(0.0, "lockout latched before restart")
        if self.profiles.problem is not None:
            self.notices.post([make_notice(NoticeCode.PROFILE_UNREADABLE, self.profiles.problem)], 0.0)

    async def run(self) -> None:
        """Run until ``stopping`` is set; outputs go to the safe state however it ends."""
        self.start_safe()
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._scan_loop(), name="scan")
                if self.notifier is not None:
                    tg.create_task(self._systemd_watchdog(), name="systemd-watchdog")
                await self.stopping.wait()
                raise _Stop()
        except* _Stop:
            pass
        finally:
            if self._watchdog_timer is not None:
                self._watchdog_timer.cancel()
            self.board.safe_state()
            self.technician.cancel("shutdown")

    def stop(self) -> None:
        self.stopping.set()

    async def _scan_loop(self) -> None:
        loop = asyncio.get_running_loop()
        period = self.period_s
        perf = time.perf_counter
        costs = self.tick_cost_s
        next_t = loop.time()
        self.last_tick_end_s = next_t
        while True:
            now = loop.time()
            late = now - next_t if now > next_t else 0.0
            t0 = perf()
            await self.tick(now, late)
            costs.append(perf() - t0)
            end = self.last_tick_end_s = loop.time()
            self.ticks_done += 1
            if self._watchdog_timer is None:
                self._arm_watchdog(loop)
            next_t += period
            if end > next_t + period:  # fell behind (a stall): don't try to catch up
                next_t = end
            await asyncio.sleep(next_t - end if next_t > end else 0.0)

    def _arm_watchdog(self, loop: asyncio.AbstractEventLoop) -> None:
        """Arm the late-tick deadline: the last tick's end plus the allowed lateness.

        A lazy timer, not a polling task and not one re-armed every tick: when it comes due
        and ticks have completed since it was armed, it moves itself to the newest deadline
        (which is then still ahead), so a healthy cycle costs one timer per few periods."""
        self._watchdog_armed_at = self.ticks_done
        self._watchdog_timer = loop.call_at(self.last_tick_end_s + self._late_limit_s, self._watchdog_due)

    def _watchdog_due(self) -> None:
        loop = asyncio.get_running_loop()
        if self.ticks_done != self._watchdog_armed_at:  # the cycle is alive: wait for its deadline
            self._arm_watchdog(loop)
            return
        self._watchdog_fire(loop)

    def _watchdog_fire(self, loop: asyncio.AbstractEventLoop) -> None:
        """The scan cycle is late (blocked I/O): force the safe state without waiting for it,
        and keep forcing it every period until a tick completes. On the loop thread, so only
        GPIO: an I2C write here would wait for the bus lock the stuck I/O thread holds, and the
        loop (MQTT, the socket, the panel) would freeze for the kernel's I2C timeout."""
        if not self.watchdog_tripped:
            log.error("scan cycle late by %.3f s: forcing the safe state", loop.time() - self.last_tick_end_s)
        self.watchdog_tripped = True
        self.board.gpio_safe_state()  # GPIO only: the late tick's thread may hold the I2C bus
        self._watchdog_armed_at = self.ticks_done
        self._watchdog_timer = loop.call_later(self.period_s, self._watchdog_due)

    async def _systemd_watchdog(self) -> None:
        interval = self.notifier.watchdog_interval_s()
        if not interval:
            return
        loop = asyncio.get_running_loop()
        limit = self.config.limits.tick_late_periods * self.period_s
        while True:
            await asyncio.sleep(interval)
            if loop.time() - self.last_tick_end_s <= limit:  # only a live scan cycle pets the dog
                self.notifier.watchdog()

    # ------------------------------------------------------------------ the tick
    async def tick(self, now: float, late_s: float = 0.0) -> None:
        cfg = self.config
        thermal = self.tick_count % cfg.rates.thermal_every_n_ticks == 0
        self.tick_count += 1
        readings = await self.board.read(now, thermal)
        now = readings.t_s
        self.last_readings = readings
        self.technician.observe(readings)

        commands_handled = self.commands.process_pending(now, readings)
        expired = self.profiles.expire(now)
        if expired is not None:
            self.notices.drop(NoticeCode.PROFILE_CHANGE_WAITING)
            self.notices.post([expired], now)

        # 2. safety: every tick, before anything is written
        ctx = SafetyContext(
            session_started_s=(now - self.runner.elapsed_s(now)) if self.runner.mode in (RUNNING, PAUSED) else None,
            heat_targets_c=dict(self.heat_targets),
            pressure_targets_mmhg=dict(self.pressure_targets),
            tick_late_s=late_s if not self.watchdog_tripped else max(late_s, cfg.limits.tick_late_periods * self.period_s * 2),
        )
        self.watchdog_tripped = False
        new_faults = [f for f in self.safety.check(readings, self.last_outputs, now, ctx) if self.latch.raise_fault(f)]
        for fault in new_faults:
            self._on_new_fault(fault, now)
        active = self.latch.active()

        # 3. runner
        targets = self.runner.step(now, {z: pr.temp_c for z, pr in readings.pads.items()})
        if targets.phase_changed:
            self._load_phase(targets, now)
            self.notices.show_prompt(targets.prompt, now)

        # 4. controllers
        if thermal:
            temps = {z: pr.temp_c for z, pr in readings.pads.items()}
            self.heat.step(temps, targets.heat_c, now)
        self.heat.cut_untargeted(targets.heat_c)  # a stop or fault cuts the heat this tick
        self.heat_targets = targets.heat_c
        comp = self.compression.step(readings.pressure_mmhg, now)
        self.pressure_targets = comp.target_mmhg
        if comp.warnings:  # a target the plant cannot reach: shown and logged, cuts nothing
            raised = [w for w in comp.warnings if self.latch.raise_fault(w)]
            for warning in raised:
                self._on_new_fault(warning, now)
            new_faults += raised
            active = self.latch.active()
        roller_speed = self.rollers.step(now)
        wanted = Outputs(
            heater_duty=dict(self.heat.duty),  # held between thermal ticks
            fill_open=comp.fill_open,
            vent_open=comp.vent_open,
            pump_duty=comp.pump_duty,
            roller_speed=roller_speed,
            relay_closed=True,
        )
        wanted = self.manual.apply(wanted)  # still through the gate below

        # 5. the gate, 6. write, heartbeat
        out = gate(wanted, active, cfg.pad_names, cfg.chamber_names, cfg.roller_names, self._profile_cut())
        await self.board.write(out)
        self.board.toggle_heartbeat()
        self.last_outputs = out

        # 7. publish
        mode = self.runner.mode
        record = TickRecord(now, mode, readings, out, targets.heat_c, comp.target_mmhg,
                            tuple(f.code for f in active), tuple(new_faults), targets.phase_changed, comp.strokes)
        for observe in self.observers:
            observe(record)
        if mode != self._last_mode:
            self._on_mode_change(self._last_mode, mode, now)
            self._last_mode = mode
        notices_changed, self.notices.changed = self.notices.changed, False
        if (new_faults or commands_handled or notices_changed or targets.phase_changed
                or self.tick_count % SNAPSHOT_EVERY_N_TICKS == 1):
            self.publish(record, active)

    def publish(self, record: TickRecord, active: list[Fault]) -> None:
        self.seq += 1
        prog = self.runner.program.name if self.runner.program is not None else None
        self.hub.publish_state(build_snapshot(self.seq, record, self.runner, active, self.latch.has_lockout, prog,
                                              profiles=self.profiles, notices=self.notices))

    def _profile_cut(self) -> ZoneCut:
        """The gate's per-leg cut for the profile in force (worked out again when it changes)."""
        profile = self.profiles.profile
        if profile is not self._cut_for:
            self._cut, self._cut_for = profile_cut(profile, self.config), profile
        return self._cut

    def _load_phase(self, targets, now: float) -> None:
        intensity = self.runner.intensity
        spared = self.runner.spared_legs  # the controllers want nothing there (and the gate cuts it)
        self.compression.set_spared_legs(spared, now)
        self.rollers.set_spared(frozenset(r.zone for r in self.config.rollers if r.leg in spared))
        self.compression.set_program(targets.compression, intensity, now, phase_completed=targets.phase_completed)
        self.rollers.set_program(targets.rollers, intensity, now)

    def _on_new_fault(self, fault: Fault, now: float) -> None:
        log.error("fault %s (%s): %s", fault.code, fault.severity.value, fault.message)
        self.hub.publish_event({"type": "fault", "t_s": round(now, 3), **fault.to_dict()})
        if fault.severity is not Severity.WARNING:
            self.runner.fault(now, fault.message)
            self.compression.set_program(None, self.runner.intensity, now)
            self.rollers.set_program(None, self.runner.intensity, now)
            self.manual.clear()
            self.technician.cancel("a fault")

    def _on_mode_change(self, old: str | None, new: str, now: float) -> None:
        runner = self.runner
        s = runner.session
        if new in ENDED and old not in (RUNNING, PAUSED) and s is not None and s.ended_s == now:
            # started and ended on one tick (a fault on its first tick): it still began and ended
            self._on_mode_change(old, RUNNING, now)
            old = RUNNING
        if new == RUNNING and old not in (RUNNING, PAUSED):
            self.hub.publish_event({"type": "session_start", "t_s": round(now, 3),
                                    "program": runner.program.id, "intensity": runner.intensity})
            self.session_ended.clear()
            self._strokes_at_start = self.compression.strokes
        elif new in ENDED and old in (RUNNING, PAUSED):
            s = runner.session
            self.hub.publish_event({"type": "session_end", "t_s": round(now, 3), "program": s.program,
                                    "outcome": s.outcome, "reason": s.reason,
                                    "duration_s": round((s.ended_s or now) - s.started_s, 1)})
            self._record_day(s, now)
            self.session_ended.set()
        elif new in (PAUSED,) or (new == RUNNING and old == PAUSED):
            self.hub.publish_event({"type": "session_" + ("paused" if new == PAUSED else "resumed"),
                                    "t_s": round(now, 3)})
        if self.notifier is not None:
            self.notifier.status(f"{new}" + (f": {runner.program.id}" if runner.program and new == RUNNING else ""))

    def _record_day(self, s, now: float) -> None:
        """Add the session to each leg's daily record; a notice when a leg's day passes the
        guide's amount ("5 to 10 minutes per leg daily"; the threshold is a config setting)."""
        minutes = max(0.0, self.runner.elapsed_s(now) - s.preheat_s) / 60.0
        legs = sorted({c.leg for c in self.config.chambers})
        strokes = {leg: n - self._strokes_at_start.get(leg, 0) for leg, n in self.compression.strokes.items()}
        totals = self.daily.add_session(legs=legs, minutes=minutes, program=s.program, intensity=s.intensity,
                                        strokes=strokes)
        limit = self.config.therapy.daily_minutes_per_leg_notice
        for leg in legs:
            if totals.get(leg, 0.0) - minutes < limit <= totals.get(leg, 0.0):
                log.warning("notice: the %s leg passed %g minutes today", leg, limit)
                self.notices.post_daily_amount(leg, totals[leg], limit, now)

    # ------------------------------------------------------------------ the fault log
    def fault_log(self, limit: int = 500) -> list[dict]:
        """The persisted log, one flat row per entry (event, code, severity, zone, message, by)."""
        rows = []
        for entry in self.store.read_log(limit):
            fault = entry.get("fault") or {}
            row = {"t_s": entry.get("t_s"), "event": entry.get("event")}
            row.update({k: fault.get(k) for k in ("code", "severity", "zone", "message") if k in fault})
            row.update({k: v for k, v in entry.items() if k not in ("fault", "t_s", "event")})
            rows.append(row)
        return rows

class _Stop(Exception):
    pass

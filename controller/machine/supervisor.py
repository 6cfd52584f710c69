"""The scan cycle: sense → safety → runner → controllers → gate → write → heartbeat → publish.

One task owns the board and runs the cycle at the fast rate; the board reads the pads in
rotation and the heat PID steps every Nth tick. The rate is the config's unless the bus time
measured at start does not fit it (``choose_scan_rate``). A lazy deadline timer watches the
cycle itself and forces the safe state when a tick is late (a hung bus); the hardware heartbeat relay and systemd's watchdog are the layers
beyond that. Time comes from the event loop only, so the whole machine runs under virtual time.

The supervisor builds the parts and runs the cycle; the command handler and the technician
operations are handed the parts they act on (runner, latch, overrides, heat controller, ...),
never the supervisor itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable

from controller.machine.board import Board
from controller.machine.dispatch import CommandHandler
from controller.machine.notices import NoticeBoard
from controller.machine.profile_keeper import ProfileKeeper
from controller.machine.service_keeper import ServiceKeeper
from controller.machine.technician import Technician
from controller.control.compression import CompressionController
from controller.model.config import MachineConfig, Rates
from controller.storage.daily_record import DailyRecord
from controller.storage.fault_store import FaultStore
from controller.model.faults import Fault, Severity
from controller.model.manual import ManualOverrides
from controller.safety.latch import FaultLatch
from controller.storage.commissioning import Commissioning, load_commissioning
from controller.storage.gains import load_gains
from controller.safety.gate import ZoneCut, gate
from controller.safety.profile_cut import profile_cut
from controller.model.notice import Notice, NoticeCode, make as make_notice
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
#: the share of a period the worst tick's bus time may take: the rest is the tick's own work
#: (safety, controllers, publishing) and the kernel's jitter
BUS_SHARE_MAX = 0.5
SCAN_RATE_LOWERED = "scan_rate_lowered"  # the notice code


@dataclass(frozen=True)
class ScanRate:
    """The scan rate the machine runs at, chosen at start from the bus time it measured."""

    config: MachineConfig  # the config with the rate chosen (the one given, if it fits)
    worst_bus_s: float | None  # the worst tick's bus time measured (None: not measured)
    message: str | None = None  # set when the rate was lowered: what, and why

    @property
    def lowered(self) -> bool:
        return self.message is not None


def choose_scan_rate(config: MachineConfig, worst_bus_s: float | None, rotation_ticks: int = 1) -> ScanRate:
    """The configured rate if the worst tick's bus work fits ``BUS_SHARE_MAX`` of its period;
    otherwise the configured rate divided by the smallest whole k that makes it fit (50 Hz ->
    25, 16.7, 12.5 Hz ...). ``thermal_every_n_ticks`` becomes N / k rounded down to a multiple
    of the pads' rotation (``Board.rotation_ticks``, measured with it: 4 ticks), so each tick
    still reads as many pads as measured and the heat PID steps at least as often in seconds
    (50 Hz, N = 12 -> 25 Hz, N = 4: every 0.16 s); below one rotation, N / k rounded down (more
    pads a tick than measured: only on a bus over 3x too slow). Every safety window is in
    seconds, so the checks hold at any rate; a tick late by ``tick_late_periods`` periods is
    measured in the new, longer periods. Not below the config's lowest rate (5 Hz): a bus that
    slow is broken, and runs at 5 Hz with the warning saying it still does not fit."""
    rates = config.rates
    if worst_bus_s is None or worst_bus_s <= BUS_SHARE_MAX * rates.period_s:
        return ScanRate(config, worst_bus_s)
    lowest_hz = next(m.ge for m in Rates.model_fields["fast_hz"].metadata if hasattr(m, "ge"))
    k = math.ceil(worst_bus_s / (BUS_SHARE_MAX * rates.period_s) - 1e-9)
    fast_hz = max(rates.fast_hz / k, lowest_hz)
    ticks_between = rates.thermal_every_n_ticks * fast_hz / rates.fast_hz + 1e-9
    rotation = max(1, rotation_ticks)
    thermal_n = (int(ticks_between // rotation) * rotation if ticks_between >= rotation
                 else max(1, int(ticks_between)))
    chosen = config.model_copy(update={"rates": Rates(fast_hz=fast_hz, thermal_every_n_ticks=thermal_n)})
    fits = worst_bus_s <= BUS_SHARE_MAX / fast_hz
    message = (f"I2C bus too slow for {rates.fast_hz:g} Hz: a tick's reads take up to {worst_bus_s * 1000:.1f} ms "
               f"at {config.board.i2c_clock_hz / 1000:g} kHz, over {BUS_SHARE_MAX:.0%} of the "
               f"{rates.period_s * 1000:g} ms period; running at {fast_hz:.3g} Hz"
               + ("" if fits else " (still too slow: check the bus)")
               + " (set dtparam=i2c_arm_baudrate=400000)")
    return ScanRate(chosen, worst_bus_s, message)


class Supervisor:
    def __init__(self, config: MachineConfig, board: Board, hub: MachineHub, programs: dict,
                 *, state_dir: str, observers: Iterable[Callable[[TickRecord], None]] = (),
                 sim=None, notifier=None, require_profile_confirmation: bool = True,
                 scan_rate: ScanRate | None = None) -> None:
        if scan_rate is not None:
            config = scan_rate.config  # the rate chosen at start: every part below runs at it
            board.set_rates(config)
        self.scan_rate = scan_rate
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
        # the tick each pad's heat control last stepped (as if N ticks before the first: each
        # steps on the first tick that reads it)
        self._heat_stepped = {p: -config.rates.thermal_every_n_ticks for p in pads}
        self.heat_stepped: list[str] = []  # the pads whose heat control stepped this tick
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
        # the pump's flow and the sleeves' leak-down, measured every session
        self.service = ServiceKeeper(config, state_dir, self.commissioning)
        self.compression.pump_measured = self.service.pump_now
        hub.history_reader = self.daily.history
        self._strokes_at_start: dict[str, int] = {}
        from programs.library import describe

        hub.program_lister = lambda: [describe(p) for p in programs.values()]
        hub.program_ids = tuple(p.id for p in programs.values())

    def _commissioned(self, record: Commissioning) -> None:
        self.commissioning = record
        self.safety.set_commissioning(record.heating())
        self.service.set_commissioning(record)

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
        if self.service.record.problem is not None:
            log.warning("%s", self.service.record.problem)
        if self.scan_rate is not None and self.scan_rate.lowered:
            log.warning("%s", self.scan_rate.message)
            self.notices.post([Notice(code=SCAN_RATE_LOWERED, text=self.scan_rate.message[:300])], 0.0)

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
        self.tick_count += 1
        readings = await self.board.read(now, False)  # the pads in rotation (Board.pads_per_tick)
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
        stepping = self.heat_stepped = self._heat_steps_due(readings)
        if stepping:
            temps = {z: pr.temp_c for z, pr in readings.pads.items()}
            self.heat.step(temps, targets.heat_c, now, stepping)
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
        weak = self._pump_weak(self.service.observe(record), now)
        if weak is not None:  # the recorders see it on the tick it was raised, as any fault
            new_faults.append(weak)
            active = self.latch.active()
            record = dataclasses.replace(record, fault_codes=tuple(f.code for f in active),
                                         new_faults=tuple(new_faults))
        for observe in self.observers:
            observe(record)
        if mode != self._last_mode:
            self._on_mode_change(self._last_mode, mode, now)
            self._last_mode = mode
        notices_changed, self.notices.changed = self.notices.changed, False
        if (new_faults or commands_handled or notices_changed or targets.phase_changed
                or self.tick_count % SNAPSHOT_EVERY_N_TICKS == 1):
            self.publish(record, active)

    def _heat_steps_due(self, readings: Readings) -> list[str]:
        """The pads whose heat control steps this tick: every ``thermal_every_n_ticks`` ticks,
        on the tick that read the pad (its reading is of this tick), as when every pad was read
        on the step's tick; a pad whose reading failed steps a rotation later on the reading
        it has (the stale check cuts its heat within a second)."""
        n = self.config.rates.thermal_every_n_ticks
        rotation = -(-len(self.config.pads) // self.board.pads_per_tick)
        due = []
        for pad, last in self._heat_stepped.items():
            waited = self.tick_count - last
            fresh = readings.pads[pad].t_s == readings.t_s
            if (waited >= n and fresh) or waited >= n + rotation:
                due.append(pad)
                self._heat_stepped[pad] = self.tick_count
        return due

    def publish(self, record: TickRecord, active: list[Fault]) -> None:
        self.seq += 1
        prog = self.runner.program.name if self.runner.program is not None else None
        self.hub.publish_state(build_snapshot(self.seq, record, self.runner, active, self.latch.has_lockout, prog,
                                              profiles=self.profiles, notices=self.notices,
                                              service=self.service.summary,
                                              minutes_today=self.daily.minutes_today()))

    def _pump_weak(self, warning, now: float) -> Fault | None:
        """The service record's ``pump_weak`` warning (fault, notice), if any: latched and shown
        like ``pressure_shortfall`` (it cuts nothing), and a notice on the panel, socket and MQTT;
        the fault if it was newly latched. The pump's measured flow also goes into the shortfall
        warning's words."""
        self.compression.pump_measured = self.service.pump_now
        if warning is None:
            return None
        fault, notice = warning
        self.notices.post([notice], now)
        if self.latch.raise_fault(fault):
            self._on_new_fault(fault, now)
            return fault
        return None

    def _profile_cut(self) -> ZoneCut:
        """The gate's per-leg cut for the profile in force, worked out every tick (a few
        microseconds): a change of profile is cut on the tick it takes effect."""
        return profile_cut(self.profiles.profile, self.config)

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
            self.compression.new_session()
            self.service.session_started()
        elif new in ENDED and old in (RUNNING, PAUSED):
            s = runner.session
            self.hub.publish_event({"type": "session_end", "t_s": round(now, 3), "program": s.program,
                                    "outcome": s.outcome, "reason": s.reason,
                                    "duration_s": round((s.ended_s or now) - s.started_s, 1)})
            self._record_day(s, now)
            self._pump_weak(self.service.session_ended(s.program, now), now)
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

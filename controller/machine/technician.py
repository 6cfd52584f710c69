"""Technician operations: self-test, pressure calibration, heater autotune, commissioning.

They run one at a time (``Technician``) as a task beside the scan cycle and are handed the
parts they work with (``Workbench``), not the supervisor. Self-test and calibration drive
outputs through the manual overrides, so the interlocks and the gate still apply to every
write; autotune swaps the pad's control law inside the heat controller (as Klipper's
``PID_CALIBRATE`` does), so the relay rides the same thermal ticks and its duty passes the same
gate. A fault, a stop or a shutdown calls the operation off: overrides released and every pad
handed back to its PID at once, in the same tick, before the task itself has unwound.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

from controller.control.autotune import RelayAutotune, deadlines_from
from controller.control.heat_gains import gains_from_response
from controller.control.heat_response import HeatResponseStep
from controller.control.heat import HeatController
from controller.machine.board import Board
from controller.model import commands as c
from controller.model.commands import CommandResult
from controller.model.config import MAX_PRESSURE_OFFSET_MMHG, MachineConfig
from controller.model.manual import ManualOverrides, ManualTarget
from controller.model.readings import Readings
from controller.storage.calibration import save_pressure_offsets
from controller.storage.commissioning import (ChamberRecord, Commissioning, PadRecord, load_commissioning,
                                              save_commissioning)
from controller.storage.gains import save_gains

log = logging.getLogger("legtherapy.commands")

VENT_SETTLE_S = 4.0
FILL_PROBE_MMHG = 15.0  # a chamber must reach this in the probe time to prove valve + pump + sensor
FILL_PROBE_S = 4.0
HEAT_PROBE_S = 30.0
HEAT_DRIFT_S = 10.0
HEAT_PROBE_RISE_C = 0.5  # over the unheated pads' drift in the same time
ROLLER_PROBE_S = 1.0
ROLLER_MIN_A = 0.15
#: commissioning a chamber: from vented, pump at full duty, fill valve open, until FILL_TO_MMHG
#: (below every program's pressures' upper reaches, far below the trip); then both valves shut
#: for LEAK_HOLD_S, read after LEAK_SETTLE_S (valve and hose lag) — well inside the 60 s hold limit
FILL_FROM_MMHG = 5.0
FILL_TO_MMHG = 40.0
FILL_TIMEOUT_S = 30.0
LEAK_SETTLE_S = 1.0
LEAK_HOLD_S = 10.0
#: the pads' step may take a heavy pad in a cold room ~15 min to the top of the checked range
HEAT_STEP_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class Workbench:
    """The parts a technician operation works with."""

    config: MachineConfig
    board: Board  # the pressure sensors' zero offsets
    heat: HeatController  # autotune swaps a pad's control law here
    manual: ManualOverrides  # outputs held by hand, laid over the controllers' before the gate
    state_dir: str  # where gains and offsets are kept
    latest: Callable[[], Readings | None]  # the newest scan's readings
    #: told of a new commissioning (the safety monitor's heating checks take it from there)
    on_commissioned: Callable[[Commissioning], None] | None = None

    @property
    def period_s(self) -> float:
        return self.config.rates.period_s


class Technician:
    """One technician operation at a time, as a task beside the scan cycle."""

    def __init__(self, *, config: MachineConfig, board: Board, heat: HeatController, manual: ManualOverrides,
                 state_dir: str, on_commissioned: Callable[[Commissioning], None] | None = None) -> None:
        self._latest: Readings | None = None
        self.bench = Workbench(config, board, heat, manual, state_dir, latest=lambda: self._latest,
                               on_commissioned=on_commissioned)
        self._task: asyncio.Task | None = None
        self._called_off_by: str | None = None

    def observe(self, readings: Readings) -> None:
        """The scan cycle's newest readings (every tick, before anything acts on them)."""
        self._latest = readings

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, cmd) -> asyncio.Future:
        """Start the operation ``cmd`` asks for; the future gets its result when it ends."""
        op = {c.SelfTest: selftest, c.CalibratePressure: calibrate_pressure, c.Autotune: autotune,
              c.Commission: commission}[type(cmd)]
        loop = asyncio.get_running_loop()
        result_future = loop.create_future()
        self._called_off_by = None

        async def run():
            try:
                result = await op(self.bench, cmd)
            except asyncio.CancelledError:
                result = CommandResult.refused(cmd, f"interrupted by {self._called_off_by or 'shutdown'}")
            except Exception as err:
                log.exception("technician operation failed")
                result = CommandResult.refused(cmd, f"failed: {err}")
            finally:
                self._release()
            if not result_future.done():
                result_future.set_result(result)

        self._task = loop.create_task(run())
        return result_future

    def cancel(self, reason: str) -> bool:
        """Call off a running operation (a fault, a stop, a shutdown): its outputs are released
        now, not when the task unwinds. True if one was running."""
        if not self.busy:
            return False
        self._called_off_by = reason
        self._release()
        self._task.cancel()
        return True

    def _release(self) -> None:
        self.bench.manual.clear()
        self.bench.heat.restore_control()


async def _wait_until(bench: Workbench, predicate, timeout_s: float) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while loop.time() < end:
        if predicate():
            return True
        await asyncio.sleep(bench.period_s)
    return predicate()


def _pressures(bench: Workbench) -> dict[str, float]:
    r = bench.latest()
    return dict(r.pressure_mmhg) if r else {}


def _check(name: str, ok: bool, detail: str) -> dict:
    return {"name": name, "ok": bool(ok), "detail": detail}


async def _vent_all(bench: Workbench) -> None:
    bench.manual.clear()
    await asyncio.sleep(VENT_SETTLE_S)


async def selftest(bench: Workbench, cmd) -> CommandResult:
    """Drive each valve, the pump, each heater and each roller in turn; check the right sensor answers."""
    cfg = bench.config
    manual = bench.manual
    checks: list[dict] = []
    r = bench.latest()
    checks.append(_check("estop circuit", r is not None and not r.estop_tripped,
                         "closed" if r is not None and not r.estop_tripped else "open: e-stop pressed or wire cut"))
    await _vent_all(bench)
    base = _pressures(bench)
    vented = {z: p for z, p in base.items() if not (math.isfinite(p) and p < 5.0)}
    checks.append(_check("all chambers vented", not vented,
                         "all below 5 mmHg" if not vented else ", ".join(f"{z} {p:.1f} mmHg" for z, p in vented.items())))
    pump_ok = False
    pump = ManualTarget.pump()
    for zone in cfg.chamber_names:
        fill, vent = ManualTarget.fill(zone), ManualTarget.vent(zone)
        manual.set(pump, 0.8)
        manual.set(fill, 1.0)
        manual.set(vent, 0.0)
        reached = await _wait_until(bench, lambda: _pressures(bench).get(zone, 0.0) >= FILL_PROBE_MMHG, FILL_PROBE_S)
        now_p = _pressures(bench)
        others = {z: now_p[z] - base.get(z, 0.0) for z in cfg.chamber_names if z != zone}
        crosstalk = {z: d for z, d in others.items() if math.isfinite(d) and d > 3.0}
        pump_ok = pump_ok or reached
        detail = f"{now_p.get(zone, math.nan):.1f} mmHg after fill"
        if crosstalk:
            detail += "; also rose: " + ", ".join(f"{z} +{d:.1f}" for z, d in crosstalk.items())
        checks.append(_check(f"fill valve + pressure sensor {zone}", reached and not crosstalk, detail))
        manual.release(pump, fill, vent)
        vented_ok = await _wait_until(bench, lambda: _pressures(bench).get(zone, 99.0) < 5.0, VENT_SETTLE_S)
        checks.append(_check(f"vent valve {zone}", vented_ok, f"{_pressures(bench).get(zone, math.nan):.1f} mmHg after venting"))
    checks.append(_check("pump", pump_ok, "filled at least one chamber" if pump_ok else "no chamber filled"))

    for zone in cfg.pad_names:
        # The limb (and a neighbour's heat) warms a pad a little anyway: measure the pad's own
        # drift first with its heater off, and judge the heated rise against that drift.
        heater = ManualTarget.heater(zone)
        t0 = bench.latest().pads[zone].temp_c
        await asyncio.sleep(HEAT_DRIFT_S)
        t1 = bench.latest().pads[zone].temp_c
        manual.set(heater, 1.0)
        await asyncio.sleep(HEAT_PROBE_S)
        manual.release(heater)
        t2 = bench.latest().pads[zone].temp_c
        drift = (t1 - t0) * HEAT_PROBE_S / HEAT_DRIFT_S
        rise = (t2 - t1) - drift
        checks.append(_check(f"heater + sensor {zone}", math.isfinite(rise) and rise >= HEAT_PROBE_RISE_C,
                             f"rose {t2 - t1:+.2f} °C in {HEAT_PROBE_S:.0f} s at full duty "
                             f"({rise:+.2f} °C above its own drift)"))
        pr = bench.latest().pads[zone]
        agree = math.isfinite(pr.temp_c) and math.isfinite(pr.temp2_c) and abs(pr.temp_c - pr.temp2_c) <= cfg.limits.sensor_disagree_c
        checks.append(_check(f"sensors agree {zone}", agree, f"thermistor {pr.temp_c:.1f} °C, MCP9808 {pr.temp2_c:.1f} °C"))

    for zone in cfg.roller_names:
        roller = ManualTarget.roller(zone)
        manual.set(roller, 0.5)
        await asyncio.sleep(ROLLER_PROBE_S)
        amps = bench.latest().roller_current_a.get(zone, math.nan)
        manual.release(roller)
        checks.append(_check(f"roller + current sensor {zone}", math.isfinite(amps) and ROLLER_MIN_A <= amps
                             <= cfg.limits.roller_current_limit_a, f"{amps:.2f} A at half speed"))
        await asyncio.sleep(0.5)
    manual.clear()
    passed = all(ch["ok"] for ch in checks)
    return CommandResult.accepted(cmd, {"passed": passed, "checks": checks})


async def calibrate_pressure(bench: Workbench, cmd) -> CommandResult:
    """Zero every pressure sensor with all chambers vented (vents open for a while first)."""
    await _vent_all(bench)
    samples: dict[str, list[float]] = {z: [] for z in bench.config.chamber_names}
    for _ in range(25):
        for z, p in _pressures(bench).items():
            if math.isfinite(p):
                samples[z].append(p)
        await asyncio.sleep(bench.period_s * 2)
    offsets = {}
    problems = []
    current = {z: s.offset_mmhg for z, s in bench.board.pressure_sensors.items()}
    for z, vals in samples.items():
        if not vals:
            problems.append(f"{z}: no readings")
            continue
        mean = sum(vals) / len(vals)
        new = current[z] + mean
        if abs(new) > MAX_PRESSURE_OFFSET_MMHG:
            problems.append(f"{z}: zero offset {new:.1f} mmHg is too large (sensor or hose fault?)")
        offsets[z] = round(new, 3)
    if problems:
        return CommandResult.refused(cmd, "calibration refused: " + "; ".join(problems))
    for z, off in offsets.items():
        bench.board.set_pressure_offset(z, off)
    save_pressure_offsets(bench.state_dir, offsets)
    return CommandResult.accepted(cmd, {"offsets_mmhg": offsets})


async def autotune(bench: Workbench, cmd) -> CommandResult:
    """Relay autotune of one pad (as Klipper's PID_CALIBRATE); gains saved in the state dir.

    Two deadlines, from the pad's commissioning when there is one (``deadlines_from``): the
    warm-up to the target, and the oscillation, timed from the first time the pad reached the
    target — so a heavy pad's long warm-up from a cold room is not counted against its cycles.
    The tune becomes the pad's control law for its duration and the PID is back when it ends,
    fails, or is called off (the ``finally`` here; a fault or stop does it at once). A failure
    says what happened (the tune's own reason), never only "timed out"."""
    cfg = bench.config
    pad = cmd.pad
    if pad not in cfg.pad_names:
        return CommandResult.refused(cmd, f"unknown pad {pad!r} (known: {', '.join(cfg.pad_names)})")
    target = min(cmd.target_c, cfg.limits.max_heat_target_c)
    record = load_commissioning(bench.state_dir, cfg.pad_names, cfg.chamber_names).pads.get(pad)
    latest = bench.latest()
    start_c = latest.pads[pad].temp_c if latest is not None and pad in latest.pads else math.nan
    if record is None:
        warmup_s, oscillation_s = deadlines_from(None, None, start_c, target)
    else:
        warmup_s, oscillation_s = deadlines_from(record.rate_c_per_s, record.dead_time_s, start_c, target,
                                                 start_if_unknown_c=record.start_c)
    ended = asyncio.get_running_loop().create_future()
    tuner = RelayAutotune(target, max_duty=bench.heat.max_duty, warmup_timeout_s=warmup_s, timeout_s=oscillation_s,
                          on_end=lambda _: ended.done() or ended.set_result(None))
    bench.heat.set_control(pad, tuner)
    try:
        # the tune keeps its own deadlines on the thermal ticks; this one only guards a scan
        # cycle that stopped feeding it
        await asyncio.wait_for(ended, warmup_s + oscillation_s + 60.0)
    except TimeoutError:
        pass
    finally:
        bench.heat.restore_control((pad,))
    if not tuner.done:
        reason = tuner.reason or (f"no thermal readings reached the tune within {warmup_s + oscillation_s + 60.0:g} s "
                                  f"({len(tuner.peaks)} turning points seen)")
        return CommandResult.refused(cmd, f"autotune of {pad} failed: {reason}")
    kp, ki, kd = tuner.result()
    save_gains(bench.state_dir, pad, (kp, ki, kd))
    bench.heat.set_gains(pad, kp, ki, kd)
    return CommandResult.accepted(cmd, {"pad": pad, "kp": kp, "ki": ki, "kd": kd})


async def commission(bench: Workbench, cmd) -> CommandResult:
    """Measure the unit: each chamber's fill rate and leak-down, then every pad's full-duty
    heating step (all pads at once: each is measured on its own sensor). The records go to
    ``commissioning.json``, each pad's gains from its step to the gains file, both in the state
    directory; the safety monitor's heating checks take the new records at once. Any part that
    fails refuses the whole (nothing is saved: a half-measured unit keeps its old record), with
    every reason."""
    cfg = bench.config
    problems: list[str] = []
    chambers: dict[str, ChamberRecord] = {}
    for zone in cfg.chamber_names:
        record, problem = await _commission_chamber(bench, zone)
        if problem:
            problems.append(f"{zone}: {problem}")
        else:
            chambers[zone] = record
    bench.manual.clear()
    pads, pad_problems = await _commission_pads(bench)
    problems += pad_problems
    if problems:
        return CommandResult.refused(cmd, "commissioning failed (nothing saved): " + "; ".join(problems))
    record = Commissioning(measured_at=_now_iso(), pads=pads, chambers=chambers)
    save_commissioning(bench.state_dir, record)
    gains = {}
    for pad, rec in pads.items():
        kp, ki, kd = gains_of(rec)
        save_gains(bench.state_dir, pad, (kp, ki, kd))
        bench.heat.set_gains(pad, kp, ki, kd)
        gains[pad] = {"kp": kp, "ki": ki, "kd": kd}
    if bench.on_commissioned is not None:
        bench.on_commissioned(record)
    return CommandResult.accepted(cmd, {
        "measured_at": record.measured_at,
        "pads": {p: {**asdict(r), **gains[p]} for p, r in pads.items()},
        "chambers": {z: asdict(r) for z, r in chambers.items()}})


def gains_of(record: PadRecord) -> tuple[float, float, float]:
    """The pad's gains from its commissioned step (``controller.control.heat_gains``)."""
    return gains_from_response(record.rate_c_per_s, record.dead_time_s, record.duty)


async def _commission_chamber(bench: Workbench, zone: str) -> tuple[ChamberRecord | None, str | None]:
    manual = bench.manual
    await _vent_all(bench)
    pump, fill, vent = ManualTarget.pump(), ManualTarget.fill(zone), ManualTarget.vent(zone)
    loop = asyncio.get_running_loop()
    manual.set(vent, 0.0)
    manual.set(fill, 1.0)
    manual.set(pump, bench.config.compression.pump_max_duty)
    t_from: tuple[float, float] | None = None
    t_to: tuple[float, float] | None = None
    end = loop.time() + FILL_TIMEOUT_S
    while loop.time() < end:
        p = _pressures(bench).get(zone, math.nan)
        now = loop.time()
        if math.isfinite(p):
            if t_from is None and p >= FILL_FROM_MMHG:
                t_from = (now, p)
            if t_from is not None and p >= FILL_TO_MMHG:
                t_to = (now, p)
                break
        await asyncio.sleep(bench.period_s)
    manual.release(pump)
    manual.set(fill, 0.0)  # both valves shut: what leaves now is the leak
    if t_to is None or t_from is None or t_to[0] <= t_from[0]:
        manual.release(fill, vent)
        p = _pressures(bench).get(zone, math.nan)
        return None, (f"reached {p:.1f} mmHg in {FILL_TIMEOUT_S:g} s at full pump duty, not {FILL_TO_MMHG:g}: "
                      "pump, fill valve, hose or a large leak")
    await asyncio.sleep(LEAK_SETTLE_S)
    p0, t0 = _pressures(bench).get(zone, math.nan), loop.time()
    await asyncio.sleep(LEAK_HOLD_S)
    p1, t1 = _pressures(bench).get(zone, math.nan), loop.time()
    manual.release(fill, vent)
    await asyncio.sleep(VENT_SETTLE_S)
    if not (math.isfinite(p0) and math.isfinite(p1)):
        return None, "lost its pressure reading"
    fill_rate = (t_to[1] - t_from[1]) / (t_to[0] - t_from[0])
    leak = max(0.0, (p0 - p1) / (t1 - t0))
    return ChamberRecord(fill_rate_mmhg_per_s=round(fill_rate, 4), from_mmhg=round(t_from[1], 3),
                         to_mmhg=round(t_to[1], 3), leak_mmhg_per_s=round(leak, 5),
                         leak_at_mmhg=round(0.5 * (p0 + p1), 3)), None


async def _commission_pads(bench: Workbench) -> tuple[dict[str, PadRecord], list[str]]:
    cfg = bench.config
    stop_c = cfg.limits.max_heat_target_c - cfg.limits.heating_check_margin_c
    loop = asyncio.get_running_loop()
    steps: dict[str, HeatResponseStep] = {}
    pending = set(cfg.pad_names)
    all_ended = loop.create_future()

    def ended(pad: str) -> None:
        pending.discard(pad)
        if not pending and not all_ended.done():
            all_ended.set_result(None)

    for pad in cfg.pad_names:
        steps[pad] = HeatResponseStep(stop_c, duty=bench.heat.max_duty, timeout_s=HEAT_STEP_TIMEOUT_S,
                                      on_end=lambda _s, pad=pad: ended(pad))
        bench.heat.set_control(pad, steps[pad])
    try:
        await asyncio.wait_for(all_ended, HEAT_STEP_TIMEOUT_S + 60.0)
    except TimeoutError:
        pass
    finally:
        bench.heat.restore_control()
    records: dict[str, PadRecord] = {}
    problems = []
    for pad, step in steps.items():
        if step.done and step.response is not None:
            r = step.response
            records[pad] = PadRecord(duty=r.duty, start_c=round(r.start_c, 3), rate_c_per_s=round(r.rate_c_per_s, 5),
                                     dead_time_s=round(r.dead_time_s, 2), window_s=round(r.window_s, 1),
                                     rise_c=round(r.rise_c, 3), duration_s=round(r.duration_s, 1))
        else:
            problems.append(f"{pad}: {step.reason or 'no thermal readings reached the measurement'}")
    return records, problems


def _now_iso() -> str:
    """The record's date, for people reading it (wall clock: a label, never used for control)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")

"""Technician operations: self-test, pressure calibration, heater autotune.

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
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

from controller.control.autotune import RelayAutotune
from controller.control.heat import HeatController
from controller.machine.board import Board
from controller.model import commands as c
from controller.model.commands import CommandResult
from controller.model.config import MAX_PRESSURE_OFFSET_MMHG, MachineConfig
from controller.model.manual import ManualOverrides, ManualTarget
from controller.model.readings import Readings
from controller.storage.calibration import save_pressure_offsets
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
AUTOTUNE_TIMEOUT_S = 1800.0


@dataclass(frozen=True)
class Workbench:
    """The parts a technician operation works with."""

    config: MachineConfig
    board: Board  # the pressure sensors' zero offsets
    heat: HeatController  # autotune swaps a pad's control law here
    manual: ManualOverrides  # outputs held by hand, laid over the controllers' before the gate
    state_dir: str  # where gains and offsets are kept
    latest: Callable[[], Readings | None]  # the newest scan's readings

    @property
    def period_s(self) -> float:
        return self.config.rates.period_s


class Technician:
    """One technician operation at a time, as a task beside the scan cycle."""

    def __init__(self, *, config: MachineConfig, board: Board, heat: HeatController, manual: ManualOverrides,
                 state_dir: str) -> None:
        self._latest: Readings | None = None
        self.bench = Workbench(config, board, heat, manual, state_dir, latest=lambda: self._latest)
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
        op = {c.SelfTest: selftest, c.CalibratePressure: calibrate_pressure, c.Autotune: autotune}[type(cmd)]
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

    The tune becomes the pad's control law for its duration and the PID is back when it ends,
    fails, times out or is called off (the ``finally`` here; a fault or stop does it at once)."""
    cfg = bench.config
    pad = cmd.pad
    if pad not in cfg.pad_names:
        return CommandResult.refused(cmd, f"unknown pad {pad!r} (known: {', '.join(cfg.pad_names)})")
    target = min(cmd.target_c, cfg.limits.max_heat_target_c)
    ended = asyncio.get_running_loop().create_future()
    tuner = RelayAutotune(target, max_duty=bench.heat.max_duty, timeout_s=AUTOTUNE_TIMEOUT_S,
                          on_end=lambda _: ended.done() or ended.set_result(None))
    bench.heat.set_control(pad, tuner)
    try:
        await asyncio.wait_for(ended, AUTOTUNE_TIMEOUT_S)
    except TimeoutError:
        pass
    finally:
        bench.heat.restore_control((pad,))
    if not tuner.done:
        return CommandResult.refused(cmd, f"autotune of {pad} failed: {tuner.reason or 'timed out'}")
    kp, ki, kd = tuner.result()
    save_gains(bench.state_dir, pad, (kp, ki, kd))
    bench.heat.set_gains(pad, kp, ki, kd)
    return CommandResult.accepted(cmd, {"pad": pad, "kp": kp, "ki": ki, "kd": kd})

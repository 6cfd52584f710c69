"""Technician operations: self-test, pressure calibration, heater autotune.

Each drives outputs through the supervisor's manual overrides, so the interlocks and the gate
still apply to every write; each waits on the event loop's clock while the scan cycle runs.
"""

from __future__ import annotations

import asyncio
import math

from controller.model.commands import CommandResult
from controller.model.config import MAX_PRESSURE_OFFSET_MMHG
from controller.storage.calibration import save_pressure_offsets
from controller.storage.gains import save_gains

VENT_SETTLE_S = 4.0
FILL_PROBE_MMHG = 15.0  # a chamber must reach this in the probe time to prove valve + pump + sensor
FILL_PROBE_S = 4.0
HEAT_PROBE_S = 30.0
HEAT_DRIFT_S = 10.0
HEAT_PROBE_RISE_C = 0.5  # over the unheated pads' drift in the same time
ROLLER_PROBE_S = 1.0
ROLLER_MIN_A = 0.15


async def _wait_until(sup, predicate, timeout_s: float) -> bool:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while loop.time() < end:
        if predicate():
            return True
        await asyncio.sleep(sup.period_s)
    return predicate()


def _pressures(sup) -> dict[str, float]:
    return dict(sup.last_readings.pressure_mmhg) if sup.last_readings else {}


def _check(name: str, ok: bool, detail: str) -> dict:
    return {"name": name, "ok": bool(ok), "detail": detail}


async def _vent_all(sup) -> None:
    sup.manual.clear()
    await asyncio.sleep(VENT_SETTLE_S)


async def selftest(sup, cmd) -> CommandResult:
    """Drive each valve, the pump, each heater and each roller in turn; check the right sensor answers."""
    cfg = sup.config
    checks: list[dict] = []
    r = sup.last_readings
    checks.append(_check("estop circuit", r is not None and not r.estop_tripped,
                         "closed" if r is not None and not r.estop_tripped else "open: e-stop pressed or wire cut"))
    await _vent_all(sup)
    base = _pressures(sup)
    vented = {z: p for z, p in base.items() if not (math.isfinite(p) and p < 5.0)}
    checks.append(_check("all chambers vented", not vented,
                         "all below 5 mmHg" if not vented else ", ".join(f"{z} {p:.1f} mmHg" for z, p in vented.items())))
    pump_ok = False
    for zone in cfg.chamber_names:
        sup.manual.update({"pump": 0.8, f"fill:{zone}": 1.0, f"vent:{zone}": 0.0})
        reached = await _wait_until(sup, lambda: _pressures(sup).get(zone, 0.0) >= FILL_PROBE_MMHG, FILL_PROBE_S)
        now_p = _pressures(sup)
        others = {z: now_p[z] - base.get(z, 0.0) for z in cfg.chamber_names if z != zone}
        crosstalk = {z: d for z, d in others.items() if math.isfinite(d) and d > 3.0}
        pump_ok = pump_ok or reached
        detail = f"{now_p.get(zone, math.nan):.1f} mmHg after fill"
        if crosstalk:
            detail += "; also rose: " + ", ".join(f"{z} +{d:.1f}" for z, d in crosstalk.items())
        checks.append(_check(f"fill valve + pressure sensor {zone}", reached and not crosstalk, detail))
        for key in ("pump", f"fill:{zone}", f"vent:{zone}"):
            sup.manual.pop(key, None)
        vented_ok = await _wait_until(sup, lambda: _pressures(sup).get(zone, 99.0) < 5.0, VENT_SETTLE_S)
        checks.append(_check(f"vent valve {zone}", vented_ok, f"{_pressures(sup).get(zone, math.nan):.1f} mmHg after venting"))
    checks.append(_check("pump", pump_ok, "filled at least one chamber" if pump_ok else "no chamber filled"))

    for zone in cfg.pad_names:
        # The limb (and a neighbour's heat) warms a pad a little anyway: measure the pad's own
        # drift first with its heater off, and judge the heated rise against that drift.
        t0 = sup.last_readings.pads[zone].temp_c
        await asyncio.sleep(HEAT_DRIFT_S)
        t1 = sup.last_readings.pads[zone].temp_c
        sup.manual[f"heater:{zone}"] = 1.0
        await asyncio.sleep(HEAT_PROBE_S)
        sup.manual.pop(f"heater:{zone}", None)
        t2 = sup.last_readings.pads[zone].temp_c
        drift = (t1 - t0) * HEAT_PROBE_S / HEAT_DRIFT_S
        rise = (t2 - t1) - drift
        checks.append(_check(f"heater + sensor {zone}", math.isfinite(rise) and rise >= HEAT_PROBE_RISE_C,
                             f"rose {t2 - t1:+.2f} °C in {HEAT_PROBE_S:.0f} s at full duty "
                             f"({rise:+.2f} °C above its own drift)"))
        pr = sup.last_readings.pads[zone]
        agree = math.isfinite(pr.temp_c) and math.isfinite(pr.temp2_c) and abs(pr.temp_c - pr.temp2_c) <= cfg.limits.sensor_disagree_c
        checks.append(_check(f"sensors agree {zone}", agree, f"thermistor {pr.temp_c:.1f} °C, MCP9808 {pr.temp2_c:.1f} °C"))

    for zone in cfg.roller_names:
        sup.manual[f"roller:{zone}"] = 0.5
        await asyncio.sleep(ROLLER_PROBE_S)
        amps = sup.last_readings.roller_current_a.get(zone, math.nan)
        sup.manual.pop(f"roller:{zone}", None)
        checks.append(_check(f"roller + current sensor {zone}", math.isfinite(amps) and ROLLER_MIN_A <= amps
                             <= cfg.limits.roller_current_limit_a, f"{amps:.2f} A at half speed"))
        await asyncio.sleep(0.5)
    sup.manual.clear()
    passed = all(ch["ok"] for ch in checks)
    return CommandResult.accepted(cmd, {"passed": passed, "checks": checks})




async def calibrate_pressure(sup, cmd) -> CommandResult:
    """Zero every pressure sensor with all chambers vented (vents open for a while first)."""
    await _vent_all(sup)
    samples: dict[str, list[float]] = {z: [] for z in sup.config.chamber_names}
    for _ in range(25):
        for z, p in _pressures(sup).items():
            if math.isfinite(p):
                samples[z].append(p)
        await asyncio.sleep(sup.period_s * 2)
    offsets = {}
    problems = []
    current = {z: s.offset_mmhg for z, s in sup.board.pressure_sensors.items()}
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
        sup.board.set_pressure_offset(z, off)
    save_pressure_offsets(sup.state_dir, offsets)
    return CommandResult.accepted(cmd, {"offsets_mmhg": offsets})


AUTOTUNE_TIMEOUT_S = 1800.0


async def autotune(sup, cmd) -> CommandResult:
    """Relay autotune of one pad (as Klipper's PID_CALIBRATE); gains saved in the state dir."""
    from controller.control.autotune import RelayAutotune

    pad = cmd.pad
    if pad not in sup.config.pad_names:
        return CommandResult.refused(cmd, f"unknown pad {pad!r} (known: {', '.join(sup.config.pad_names)})")
    target = min(cmd.target_c, sup.config.limits.max_heat_target_c)
    tuner = RelayAutotune(target)
    loop = asyncio.get_running_loop()
    end = loop.time() + AUTOTUNE_TIMEOUT_S
    last_t = None
    while not tuner.done and not getattr(tuner, "failed", False) and loop.time() < end:
        r = sup.last_readings.pads[pad]
        if r.t_s != last_t:
            last_t = r.t_s
            sup.manual[f"heater:{pad}"] = tuner.step(r.temp_c, loop.time())
        await asyncio.sleep(sup.period_s)
    sup.manual.pop(f"heater:{pad}", None)
    if not tuner.done:
        reason = getattr(tuner, "failure", None) or getattr(tuner, "reason", None) or "timed out"
        return CommandResult.refused(cmd, f"autotune of {pad} failed: {reason}")
    kp, ki, kd = tuner.result()
    save_gains(sup.state_dir, pad, (kp, ki, kd))
    sup.heat.set_gains(pad, kp, ki, kd)
    return CommandResult.accepted(cmd, {"pad": pad, "kp": kp, "ki": ki, "kd": kd})

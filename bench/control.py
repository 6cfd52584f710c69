"""Control benchmarks on the default simulated board (issue: the machine runs, §6).

- a pad from 22 °C to 40 °C under the PID, against full power and a 1 °C-hysteresis thermostat,
  and the PID on a pad twice as slow;
- each chamber to its target: error, overshoot, fill time against the pump at full flow;
- ``full_leg`` under ``--speed 0``: wall time, and the wall-clock cost of one scan tick;
- the sensor reads alone for as many ticks (the floor under that wall time).
"""

from __future__ import annotations

import asyncio
import math
import statistics
import tempfile
import time
from pathlib import Path

from controller.model.commands import Manual, Source
from controller.machine.board import build_board, make_simulator
from controller.model.config import load_config
from controller.model.outputs import Outputs
from controller.app.daemon import RunOptions, run_fast
from programs.schema import Program
from sim.params import load_sim_params

PAD = "left_calf"
TARGET_C = 40.0
HEAT_S = 1200.0


def _run(opts: RunOptions, during=None):
    return run_fast(opts, during)


def _opts(tmp: Path, **kw) -> RunOptions:
    base = dict(config=load_config(), state_dir=str(tmp / "state"), sim=True, mqtt=False, socket_path=None,
                panel=False)
    base.update(kw)
    return RunOptions(**base)


def _heat_program(target_c: float, duration_s: float) -> Program:
    return Program.model_validate({
        "id": "bench_heat", "name": "bench heat", "summary": "heat only", "category": "warm_up",
        "phases": [{"name": "heat", "duration_s": duration_s, "heat_c": {"foot": target_c, "calf": target_c}}],
    })


def _pad_series(sup_holder: list) -> callable:
    samples: list[tuple[float, float]] = []

    def observe(rec):
        if rec.readings.thermal_fresh:
            samples.append((rec.t_s, rec.readings.pads[PAD].temp_c))
    return samples, observe


def _heat_figures(samples, t0: float, target: float) -> dict:
    rise = next((t - t0 for t, v in samples if v >= target - 0.5), math.inf)
    after = [v for t, v in samples if t - t0 >= rise]
    overshoot = max(after) - target if after else math.nan
    tail = [v for t, v in samples if t - t0 >= (samples[-1][0] - t0) - 300.0]
    ss_err = max(abs(v - target) for v in tail) if tail else math.nan
    return {"rise_s": round(rise, 1), "overshoot_c": round(overshoot, 3), "steady_error_c": round(ss_err, 3)}


def heat_pid(tmp: Path, params=None) -> dict:
    samples: list[tuple[float, float]] = []

    def observe(rec):
        if rec.readings.thermal_fresh and rec.mode == "running":
            samples.append((rec.t_s, rec.readings.pads[PAD].temp_c))

    opts = _opts(tmp, program="bench_heat", exit_when_done=True, extra_programs={"bench_heat": _heat_program(TARGET_C, HEAT_S)},
                 sim_params_override=params)
    async def during(sup):
        sup.observers.append(observe)

    _run(opts, during)
    return _heat_figures(samples, samples[0][0], TARGET_C)


def heat_manual(tmp: Path, policy) -> dict:
    """Drive the heater by hand (still gated) with ``policy(temp) -> duty | None`` (None = stop)."""
    samples: list[tuple[float, float]] = []
    opts = _opts(tmp, max_runtime_s=HEAT_S + 5)

    async def during(sup):
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        duty = None
        while loop.time() - t0 < HEAT_S:
            r = sup.last_readings
            if r is not None and r.thermal_fresh:
                temp = r.pads[PAD].temp_c
                samples.append((loop.time(), temp))
                want = policy(temp, duty)
                if want is None:
                    break
                if want != duty:
                    duty = want
                    await sup.hub.submit(Manual(command="manual", output=f"heater:{PAD}", value=duty), Source.SOCKET)
            await asyncio.sleep(sup.period_s)
        sup.stop()

    _run(opts, during)
    return _heat_figures(samples, samples[0][0], TARGET_C)


def heat_bench(tmp: Path) -> list[dict]:
    full = heat_manual(tmp / "full", lambda temp, d: 1.0 if temp < TARGET_C - 0.5 else None)
    pid = heat_pid(tmp / "pid")

    def thermostat(temp, duty):
        if temp < TARGET_C - 0.5:
            return 1.0
        if temp > TARGET_C + 0.5:
            return 0.0
        return duty if duty is not None else 1.0

    onoff = heat_manual(tmp / "onoff", thermostat)
    base = load_sim_params()
    slow = heat_pid(tmp / "slow", base.model_copy(update={"pads": base.pads.slower(2.0)}))
    rows = []
    for name, fig in (("PID (default gains)", pid), ("on/off thermostat, 1 °C hysteresis", onoff),
                      ("PID on a pad twice as slow", slow)):
        rows.append({"controller": name, **fig, "rise_vs_full_power": round(fig["rise_s"] / full["rise_s"], 3)})
    rows.append({"controller": "full power (reference)", "rise_s": full["rise_s"], "overshoot_c": None,
                 "steady_error_c": None, "rise_vs_full_power": 1.0})
    return rows


FILL_TARGETS = {"foot": 60.0, "calf": 52.0, "thigh": 45.0}  # mmHg at intensity 5, 8 and 7 mmHg steps
SETTLE_S = 0.5  # the settled pressure is read this long after the fill valve closed


def _fill_program() -> Program:
    """One leg at a time (the pump serves one chamber), foot → calf → thigh."""
    return Program.model_validate({
        "id": "bench_fill", "name": "bench fill", "summary": "sequential fills", "category": "circulation",
        "phases": [{"name": "fill", "duration_s": 90, "compression": {
            "pattern": "wave", "legs": "alternate", "chambers": list(FILL_TARGETS),
            "pressure_mmhg": FILL_TARGETS, "hold_s": 6.0, "rest_s": 4.0}}],
    })


def fill_bench(tmp: Path) -> list[dict]:
    """Each chamber's first fill: error and overshoot while holding, fill time vs full flow."""
    log: dict[str, dict] = {}

    def observe(rec):
        for zone, p in rec.readings.pressure_mmhg.items():
            st = log.setdefault(zone, {"fill_start": None, "fill_end": None, "peak": 0.0, "hold": [], "done": False,
                                       "closed_t": None, "settled": None})
            if st["done"]:
                continue
            fill, vent = rec.outputs.fill_open[zone], rec.outputs.vent_open[zone]
            target = rec.pressure_targets_mmhg.get(zone, 0.0)
            if fill and st["fill_start"] is None:
                st["fill_start"] = rec.t_s
            elif st["fill_start"] is not None and st["fill_end"] is None and target and p >= target - 1.0:
                st["fill_end"] = rec.t_s  # reached the target (within 1 mmHg)
            if st["fill_end"] is not None:
                if vent:
                    st["done"] = True  # the first cycle only
                elif not fill:
                    st["peak"] = max(st["peak"], p)
                    st["hold"].append(p)
                    if st["closed_t"] is None:
                        st["closed_t"] = rec.t_s
                    if st["settled"] is None and rec.t_s - st["closed_t"] >= SETTLE_S:
                        st["settled"] = p

    sims = {}

    async def during(sup):
        sup.observers.append(observe)
        sims["sim"] = sup.sim

    _run(_opts(tmp, program="bench_fill", intensity=5, exit_when_done=True,
               extra_programs={"bench_fill": _fill_program()}), during)
    sim = sims["sim"]
    rows = []
    for zone, st in log.items():
        target = FILL_TARGETS[zone.split("_", 1)[1]]
        full_flow = sim.pneumatics.full_flow_fill_time_s(zone, target)
        fill_s = (st["fill_end"] or math.nan) - (st["fill_start"] or math.nan)
        hold = st["hold"] or [math.nan]
        rows.append({"chamber": zone, "target_mmhg": target,
                     "settled_error_mmhg": round((st["settled"] if st["settled"] is not None else math.nan) - target, 2),
                     "hold_mean_error_mmhg": round(statistics.fmean(hold) - target, 2),
                     "hold_max_sag_mmhg": round(max(target - h for h in hold), 2),
                     "overshoot_mmhg": round(max(0.0, st["peak"] - target), 2),
                     "fill_s": round(fill_s, 2), "full_flow_s": round(full_flow, 2),
                     "fill_vs_full_flow": round(fill_s / full_flow, 3)})
    return rows


def full_leg_bench(tmp: Path) -> dict:
    holder = {}

    async def during(sup):
        holder["sup"] = sup

    t0 = time.perf_counter()
    cpu0 = time.process_time()
    res = _run(_opts(tmp, program="full_leg", intensity=3, exit_when_done=True), during)
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    costs = sorted(holder["sup"].tick_cost_s)
    p99 = costs[int(0.99 * (len(costs) - 1))]
    return {"program": "full_leg", "outcome": res.report["outcome"], "machine_s": res.report["duration_s"],
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "ticks": holder["sup"].tick_count,
            "tick_mean_us": round(statistics.fmean(costs) * 1e6, 1), "tick_p99_us": round(p99 * 1e6, 1)}


def sense_floor(ticks: int) -> dict:
    """The sensor reads of ``ticks`` scan ticks and nothing else: real drivers against the
    register-level chip models (~20 I2C transactions a tick), with the physics running (relay
    closed, heartbeat toggled, a pad heating, a chamber filling, a roller turning). This is
    the floor under any ``--speed 0`` run of that many ticks on this simulator."""
    cfg = load_config()
    clock = [0.0]
    board = build_board(cfg, sim=make_simulator(cfg, lambda: clock[0]))
    off = Outputs.safe(cfg.pad_names, cfg.chamber_names, cfg.roller_names)
    out = off.with_(relay_closed=True, pump_duty=0.2, heater_duty={**off.heater_duty, "left_calf": 0.5},
                    fill_open={**off.fill_open, "left_foot": True}, vent_open={**off.vent_open, "left_foot": False},
                    roller_speed={**off.roller_speed, "right_calf": 0.6})
    board._write_sync(out)
    every = cfg.rates.thermal_every_n_ticks
    read = board._read_sync
    spent = 0.0
    for tick in range(ticks):
        clock[0] += cfg.rates.period_s
        t0 = time.perf_counter()
        read(tick % every == 0)
        spent += time.perf_counter() - t0
        board.toggle_heartbeat()
    board.close()
    return {"ticks": ticks, "reads_s": round(spent, 2), "per_tick_us": round(spent / ticks * 1e6, 1)}


def run() -> dict:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        full_leg = full_leg_bench(tmp / "full_leg")
        return {"heat": heat_bench(tmp / "heat"), "fill": fill_bench(tmp / "fill"),
                "full_leg": full_leg, "sense_floor": sense_floor(full_leg["ticks"])}

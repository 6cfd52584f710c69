"""Run the whole machine on the simulator under fast-forwarded loop time (no wall-clock waits)."""

from __future__ import annotations

import csv
import fcntl
import json
import os
from pathlib import Path

from controller.model.config import load_config
from controller.app.daemon import RunOptions, RunResult, run_fast
from sim.params import load_sim_params, shipped_plants


def run_sim(tmp_path: Path, *, program: str | None = None, intensity: int = 3, injections=(), heat: bool = True,
            max_runtime_s: float | None = None, config=None, state_dir: Path | None = None, trace: bool = True,
            during=None, preheat: bool = False, plant: str | None = None) -> tuple[RunResult, list[dict]]:
    """Run until the session ends (or the runtime cap); return the result and the trace rows.

    ``during`` is an optional coroutine function called with the supervisor once it runs;
    ``plant`` a shipped unit of sim/plants (None: the default simulated board).
    """
    cfg = config or load_config()
    trace_path = tmp_path / "trace.csv"
    opts = RunOptions(config=cfg, state_dir=str(state_dir or tmp_path / "state"), sim=True, program=program,
                      intensity=intensity, heat=heat, preheat=preheat, injections=list(injections),
                      exit_when_done=program is not None, report=str(tmp_path / "report.json"),
                      trace=str(trace_path) if trace else None, mqtt=False, socket_path=None, panel=False,
                      max_runtime_s=max_runtime_s,
                      sim_params_override=load_sim_params(shipped_plants()[plant]) if plant else None)
    result = run_fast(opts, during)
    rows = []
    if trace:
        with open(trace_path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    return result, rows


def shared_run(tmp_path_factory, program: str, intensity: int) -> tuple[RunResult, list[dict]]:
    """``program`` at ``intensity`` on the default unit (default config and plant, heat on, no
    hooks, no injections), run once per test session and read by every test that asks for it.

    A 20-minute program is ~20 s of simulation; four test files judge the same default-unit
    sessions (every program completes, the thigh step, the press-and-hold, falling short
    nowhere), so each is made once. Under pytest-xdist the workers share the session's base
    directory: the first worker to ask makes the run holding a lock on its file, another one
    that asks meanwhile waits for it and then reads it. The result carries no supervisor: a
    shared run outlives its machine."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's directory, above each worker's own
    where = base / "shared_runs" / f"{program}-{intensity}"
    where.mkdir(parents=True, exist_ok=True)
    done = where / "result.json"
    with open(where / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            result, rows = run_sim(where, program=program, intensity=intensity)
            done.write_text(json.dumps({"exit_code": result.exit_code, "report": result.report}))
            return RunResult(result.exit_code, result.report), rows
    kept = json.loads(done.read_text())
    with open(where / "trace.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return RunResult(kept["exit_code"], kept["report"]), rows

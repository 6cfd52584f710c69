"""Run the whole machine on the simulator under fast-forwarded loop time (no wall-clock waits)."""

from __future__ import annotations

import csv
from pathlib import Path

from controller.model.config import load_config
from controller.app.daemon import RunOptions, RunResult, run_fast


def run_sim(tmp_path: Path, *, program: str | None = None, intensity: int = 3, injections=(), heat: bool = True,
            max_runtime_s: float | None = None, config=None, state_dir: Path | None = None, trace: bool = True,
            during=None, preheat: bool = False) -> tuple[RunResult, list[dict]]:
    """Run until the session ends (or the runtime cap); return the result and the trace rows.

    ``during`` is an optional coroutine function called with the supervisor once it runs.
    """
    cfg = config or load_config()
    trace_path = tmp_path / "trace.csv"
    opts = RunOptions(config=cfg, state_dir=str(state_dir or tmp_path / "state"), sim=True, program=program,
                      intensity=intensity, heat=heat, preheat=preheat, injections=list(injections),
                      exit_when_done=program is not None, report=str(tmp_path / "report.json"),
                      trace=str(trace_path) if trace else None, mqtt=False, socket_path=None, panel=False,
                      max_runtime_s=max_runtime_s)
    result = run_fast(opts, during)
    rows = []
    if trace:
        with open(trace_path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    return result, rows

"""Run the whole machine on the simulator under fast-forwarded loop time (no wall-clock waits)."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

from controller.config import load_config
from controller.daemon import RunOptions, RunResult, run_machine
from controller.timebase import new_loop


def run_sim(tmp_path: Path, *, program: str | None = None, intensity: int = 3, injections=(), heat: bool = True,
            max_runtime_s: float | None = None, config=None, state_dir: Path | None = None, trace: bool = True,
            during=None) -> tuple[RunResult, list[dict]]:
    """Run until the session ends (or the runtime cap); return the result and the trace rows.

    ``during`` is an optional coroutine function called with the supervisor once it runs.
    """
    cfg = config or load_config()
    trace_path = tmp_path / "trace.csv"
    opts = RunOptions(config=cfg, state_dir=str(state_dir or tmp_path / "state"), sim=True, program=program,
                      intensity=intensity, heat=heat, injections=list(injections),
                      exit_when_done=program is not None, report=str(tmp_path / "report.json"),
                      trace=str(trace_path) if trace else None, mqtt=False, socket_path=None, panel=False,
                      max_runtime_s=max_runtime_s)
    loop = new_loop(0)

    async def main():
        ready = loop.create_future()
        task = asyncio.ensure_future(run_machine(opts, ready=ready))
        if during is not None:
            sup = await ready
            await during(sup)
        return await task

    try:
        result = loop.run_until_complete(main())
    finally:
        loop.close()
    rows = []
    if trace:
        with open(trace_path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    return result, rows

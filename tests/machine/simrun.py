"""Run the whole machine on the simulator under fast-forwarded loop time (no wall-clock waits)."""

from __future__ import annotations

import asyncio
import csv
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

from controller.model.config import load_config
from controller.app.daemon import RunOptions, RunResult, run_fast
from controller.model.state import State
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


@dataclass(frozen=True)
class PhaseView:
    """What a person saw of one step of a shared run: the machine's state in the middle of the
    step (and the loop time then), and 1 s after the step ended (None: the session had ended)."""

    index: int
    name: str
    middle: State
    middle_t_s: float
    after: State | None


@dataclass(frozen=True)
class SharedRun:
    """A default-unit session, run once per test session: the daemon's result (no supervisor:
    a shared run outlives its machine), the trace rows, every event the hub sent, and the
    state in the middle of each step and just after it."""

    result: RunResult
    rows: list[dict]
    events: list[dict]
    phases: list[PhaseView]


def _watch(events: list[dict], phases: list[dict]):
    """A passive observer for ``run_sim(during=...)``: it reads the hub and the runner, never
    commands, so the session is the same one an unwatched run makes."""

    async def during(sup):
        loop = asyncio.get_running_loop()
        sub = sup.hub.subscribe_events(maxsize=100_000)
        lookers: list[asyncio.Task] = []

        async def collect():
            async for event in sub:
                events.append(event)

        async def look(index, phase):  # the middle of the step, and 1 s after its end
            seen = {"index": index, "name": phase.name}
            await asyncio.sleep(phase.duration_s / 2)
            seen["middle"], seen["middle_t_s"] = sup.hub.snapshot().model_dump(mode="json"), loop.time()
            seen["after"] = None
            phases.append(seen)  # kept even if the session ends before the step does
            await asyncio.sleep(phase.duration_s / 2 + 1.0)
            if not sup.session_ended.is_set():
                seen["after"] = sup.hub.snapshot().model_dump(mode="json")

        async def watch():  # each step's start, seen within 0.5 s
            while sup.runner.program is None:
                await asyncio.sleep(0.5)
            program = sup.runner.program
            for index, phase in enumerate(program.phases):
                while sup.runner.program is program and sup.runner.phase_index < index:
                    await asyncio.sleep(0.5)
                if sup.runner.program is not program or sup.runner.phase_index > index:
                    return  # the session moved on or ended
                lookers.append(loop.create_task(look(index, phase)))

        async def reap(tasks):  # nothing left pending when the machine stops
            await sup.session_ended.wait()
            for task in tasks + lookers:
                task.cancel()
            while not sub.empty():  # what the session's end sent
                events.append(sub.get_nowait())
            sub.close()

        loop.create_task(reap([loop.create_task(collect()), loop.create_task(watch())]))

    return during


def shared_session(tmp_path_factory, program: str, intensity: int) -> SharedRun:
    """``program`` at ``intensity`` on the default unit (default config and plant, heat on, no
    commands, no injections), run once per test session and read by every test that asks for it.

    A 20-minute program is ~20 s of simulation; several test files judge the same default-unit
    sessions (every program completes, the thigh step, the press-and-hold, the prompt steps,
    falling short nowhere), so each is made once. Under pytest-xdist the workers share the
    session's base directory: the first worker to ask makes the run holding a lock on its file,
    another one that asks meanwhile waits for it and then reads it."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's directory, above each worker's own
    where = base / "shared_runs" / f"{program}-{intensity}"
    where.mkdir(parents=True, exist_ok=True)
    done = where / "result.json"
    rows = None
    with open(where / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            events: list[dict] = []
            phases: list[dict] = []
            result, rows = run_sim(where, program=program, intensity=intensity, during=_watch(events, phases))
            done.write_text(json.dumps({"exit_code": result.exit_code, "report": result.report, "events": events,
                                        "phases": phases}))
    kept = json.loads(done.read_text())
    if rows is None:  # made by another test or worker: read its trace
        with open(where / "trace.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
    views = [PhaseView(p["index"], p["name"], State.model_validate(p["middle"]), p["middle_t_s"],
                       None if p["after"] is None else State.model_validate(p["after"])) for p in kept["phases"]]
    return SharedRun(RunResult(kept["exit_code"], kept["report"]), rows, kept["events"], views)


def shared_run(tmp_path_factory, program: str, intensity: int) -> tuple[RunResult, list[dict]]:
    """The result and trace rows of ``shared_session``."""
    run = shared_session(tmp_path_factory, program, intensity)
    return run.result, run.rows

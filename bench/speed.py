"""Side-by-side speed check: ``full_leg`` under ``--speed 0`` here and at a baseline commit.

The renovation traded fast paths for plain code on the promise that a ``--speed 0`` run stays
within 1.25x of the last pre-renovation commit. Figures taken on different days or machines
cannot show that, so both trees run in one process tree, on one machine, alternating (the
baseline first, then this tree, ``rounds`` times) so that load from anything else falls on
both. The baseline is exported with ``git archive`` into a temporary directory and run with
the same interpreter (its own modules first on the path). Each side's figure is its fastest
round (the least disturbed one). The verdict is on CPU time (user + system of the child):
on a machine shared with other work, wall time swings by half between two runs of the same
tree while CPU time stays within a few per cent. Wall times are printed beside it.
"""

from __future__ import annotations

import io
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

BASELINE = "1b149c9"  # the last commit before the renovation
LIMIT_RATIO = 1.25  # the renovation's bound: at most this much slower than the baseline
ROUNDS = 3
RUN_ARGS = ["run", "--sim", "--speed", "0", "--program", "full_leg", "--intensity", "3",
            "--exit-when-done", "--no-mqtt", "--log-level", "WARNING"]
REPO = Path(__file__).resolve().parents[1]


def export(rev: str, into: Path) -> Path:
    """The tree of ``rev`` as plain files under ``into`` (no worktree bookkeeping to clean up)."""
    tar = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", rev],
                         check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(into, filter="data")
    return into


def cli_module(tree: Path) -> str:
    """The daemon's CLI module in ``tree``: ``controller.cli`` before the layer re-layout."""
    return "controller.app.cli" if (tree / "controller" / "app" / "cli.py").exists() else "controller.cli"


def run_once(tree: Path, state_dir: Path) -> dict:
    """One ``full_leg`` run with ``tree``'s modules; wall and child CPU seconds."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, "-m", cli_module(tree), *RUN_ARGS, "--state-dir", str(state_dir)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} in {tree} failed ({done.returncode}): {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu}


def check_imports(tree: Path) -> None:
    """Refuse to measure if ``tree``'s run would import another tree's controller package."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    where = subprocess.run([sys.executable, "-c", "import controller; print(controller.__file__)"],
                           cwd=tree, env=env, check=True, capture_output=True, text=True).stdout.strip()
    if not Path(where).resolve().is_relative_to(tree.resolve()):
        raise RuntimeError(f"{tree}: imports controller from {where}")


def run(baseline: str = BASELINE, rounds: int = ROUNDS) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-speed-") as d:
        tmp = Path(d)
        trees = {"baseline": export(baseline, tmp / "baseline"), "current": REPO}
        for tree in trees.values():
            check_imports(tree)
        runs: dict[str, list[dict]] = {name: [] for name in trees}
        for i in range(rounds):
            for name, tree in trees.items():
                runs[name].append(run_once(tree, tmp / f"state-{name}-{i}"))
    best = {name: {"wall_s": min(r["wall_s"] for r in rs), "cpu_s": min(r["cpu_s"] for r in rs)}
            for name, rs in runs.items()}
    rows = [{"tree": f"{name} ({baseline})" if name == "baseline" else f"{name} (working tree)",
             "rounds_wall_s": " ".join(f"{r['wall_s']:.2f}" for r in rs),
             "rounds_cpu_s": " ".join(f"{r['cpu_s']:.2f}" for r in rs),
             "best_wall_s": round(best[name]["wall_s"], 2), "best_cpu_s": round(best[name]["cpu_s"], 2)}
            for name, rs in runs.items()]
    wall_ratio = best["current"]["wall_s"] / best["baseline"]["wall_s"]
    cpu_ratio = best["current"]["cpu_s"] / best["baseline"]["cpu_s"]
    return {"full_leg_speed0": rows, "baseline": baseline, "rounds": rounds,
            "wall_ratio": round(wall_ratio, 3), "cpu_ratio": round(cpu_ratio, 3), "limit_ratio": LIMIT_RATIO,
            "within_limit": cpu_ratio <= LIMIT_RATIO}

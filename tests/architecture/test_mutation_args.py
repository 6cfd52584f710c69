"""``make mutation`` runs pytest with the arguments in pyproject's ``[tool.mutmut]`` (one process,
``-p no:xdist``): the suite must load that way too. A hook only pytest-xdist knows, declared
without ``optionalhook``, failed every mutmut run with "unknown hook" while ``make test`` passed."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_mutation_runs_pytest_arguments_load_the_suite():
    mutmut = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    args = [a for a in mutmut["pytest_add_cli_args"] if a != "-q"]
    assert "no:xdist" in args
    selection = mutmut["pytest_add_cli_args_test_selection"]
    proc = subprocess.run([sys.executable, "-m", "pytest", *args, "--collect-only", "-q", *selection],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "tests collected" in proc.stdout, proc.stdout[-500:]

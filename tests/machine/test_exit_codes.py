"""`legtherapy run --exit-when-done` tells a script how the session ended, and a bad plant file
is a usage error: 0 completed, 1 never started, 2 usage, 3 stopped, 4 fault, 5 lockout."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from controller.app.cli import EXIT_FAULT, EXIT_LOCKOUT, EXIT_OK, EXIT_STOPPED, EXIT_USAGE, session_exit_code
from controller.app.daemon import RunOptions, run_fast
from controller.model.config import load_config

LEGTHERAPY = [sys.executable, "-m", "controller.app.cli"]


def run(args, **kw):
    return subprocess.run(LEGTHERAPY + args, capture_output=True, text=True, timeout=600, **kw)


def sim_run(tmp_path, *extra):
    return run(["run", "--sim", "--speed", "0", "--exit-when-done", "--state-dir", str(tmp_path / "s"),
                "--log-level", "CRITICAL", *extra])


def test_the_exit_codes_are_distinct():
    assert len({EXIT_OK, 1, EXIT_USAGE, EXIT_STOPPED, EXIT_FAULT, EXIT_LOCKOUT}) == 6


@pytest.mark.parametrize("outcome, severities, code", [
    ("completed", [], EXIT_OK),
    ("completed", ["warning"], EXIT_OK),  # a warning is said, the program still completed
    ("stopped", [], EXIT_STOPPED),
    ("fault", ["stop"], EXIT_FAULT),
    ("fault", ["stop", "lockout"], EXIT_LOCKOUT),
    ("stopped", ["lockout"], EXIT_LOCKOUT),
])
def test_a_sessions_report_gives_its_exit_code(outcome, severities, code):
    report = {"outcome": outcome, "faults": [{"code": "x", "severity": s} for s in severities]}
    assert session_exit_code(report) == code


def test_a_session_stopped_by_the_run_time_cap_exits_stopped(tmp_path):
    proc = sim_run(tmp_path, "--program", "warm_up", "--max-runtime", "5")
    assert proc.returncode == EXIT_STOPPED, proc.stderr


def test_a_session_ended_by_a_stop_fault_exits_fault(tmp_path):
    proc = sim_run(tmp_path, "--program", "warm_up", "--inject", "estop@2")
    assert proc.returncode == EXIT_FAULT, proc.stderr
    assert "fault" in proc.stdout and "estop" in proc.stdout


def test_a_session_ended_by_a_lockout_exits_lockout(tmp_path):
    report = tmp_path / "r.json"
    proc = sim_run(tmp_path, "--program", "full_leg", "--inject", "heater_open:left_calf@1", "--report", str(report))
    assert proc.returncode == EXIT_LOCKOUT, proc.stderr
    assert "heater_no_gain" in {f["code"] for f in json.loads(report.read_text())["faults"]}


def test_a_fault_on_the_sessions_first_tick_still_ends_the_run(tmp_path):
    """The start and the fault land on one tick: the session began and ended, so the run exits
    at once, not at the run-time cap."""
    opts = RunOptions(config=load_config(), state_dir=str(tmp_path / "s"), sim=True, mqtt=False, socket_path=None,
                      panel=False, program="warm_up", exit_when_done=True, injections=["estop@0"],
                      max_runtime_s=600.0)
    result = run_fast(opts)
    assert result.report["outcome"] == "fault"
    assert result.supervisor.tick_count <= 3  # not 30 000 ticks later at the cap
    assert session_exit_code(result.report) == EXIT_FAULT


def test_a_bad_plant_file_is_a_usage_error_naming_file_field_and_reason(tmp_path):
    bad = tmp_path / "plant.toml"
    bad.write_text("[pump]\nfree_flow_l_per_min = 0\n")
    proc = sim_run(tmp_path, "--program", "warm_up", "--sim-params", str(bad))
    assert proc.returncode == EXIT_USAGE
    assert str(bad) in proc.stderr and "pump.free_flow_l_per_min" in proc.stderr and "greater than 0" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_missing_plant_file_is_a_usage_error(tmp_path):
    proc = sim_run(tmp_path, "--sim-params", str(tmp_path / "nowhere.toml"))
    assert proc.returncode == EXIT_USAGE and "nowhere.toml" in proc.stderr and "Traceback" not in proc.stderr


def test_sim_params_need_the_simulator(tmp_path):
    proc = run(["run", "--sim-params", "sim/plants/heavy_pad.toml", "--state-dir", str(tmp_path / "s")])
    assert proc.returncode == EXIT_USAGE and "--sim-params" in proc.stderr

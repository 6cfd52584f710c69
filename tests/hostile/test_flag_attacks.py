"""Numbers on the command line: every flag of legtherapy and legctl is finite and in range, or
the program exits 2 with a usage message naming the flag (never a Python traceback)."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from controller.app import cli
from legctl.cli import main as legctl_main

BAD_NUMBERS = ["nan", "inf", "-inf", "-1", "1e999", "abc"]


def legctl(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = legctl_main(["--socket", "/nonexistent/legtherapy.sock", *argv], out=out, err=err)
    return code, err.getvalue()


@pytest.mark.parametrize("value", BAD_NUMBERS + ["0"])
def test_legctl_timeout_nan_or_negative_is_a_usage_error_not_a_traceback(value, capsys):
    code, _ = legctl("--timeout", value, "status")
    err = capsys.readouterr().err
    assert code == 2 and "--timeout" in err and "Traceback" not in err


@pytest.mark.parametrize("value", BAD_NUMBERS + ["0", "0.001", "61"])
def test_legctl_watch_interval_nan_is_a_usage_error(value, capsys):
    code, _ = legctl("watch", "--interval", value)
    assert code == 2 and "--interval" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["watch", "--count", "-1"], ["watch", "--count", "0"],
                                  ["autotune", "left_calf", "--target-c", "nan"],
                                  ["manual", "pump", "nan"], ["manual", "pump", "inf"], ["manual", "pump", "2"]])
def test_legctl_other_numbers_are_checked_before_anything_is_sent(argv, capsys):
    code, _ = legctl(*argv)
    assert code == 2 and "error: argument" in capsys.readouterr().err


def test_legctl_timeout_minus_one_in_a_subprocess_prints_no_traceback():
    proc = subprocess.run([sys.executable, "-m", "legctl", "--timeout", "-1", "status"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "--timeout" in proc.stderr


@pytest.mark.parametrize("flag,value", [("--speed", "nan"), ("--speed", "-1"), ("--speed", "inf"),
                                        ("--max-runtime", "nan"), ("--max-runtime", "0"), ("--max-runtime", "-5"),
                                        ("--max-runtime", "inf"), ("--mqtt-port", "0"), ("--mqtt-port", "70000"),
                                        ("--trace-every", "0"), ("--trace-every", "-3"), ("--log-level", "LOUD")])
def test_legtherapy_run_flags_nan_or_out_of_range_exit_2_naming_the_flag(tmp_path, flag, value, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["run", "--sim", "--state-dir", str(tmp_path), flag, value])
    assert stop.value.code == 2
    assert flag in capsys.readouterr().err


@pytest.mark.parametrize("when", ["nan", "inf", "-1"])
def test_legtherapy_inject_time_nan_exits_2(tmp_path, when, capsys):
    code = cli.main(["run", "--sim", "--state-dir", str(tmp_path), "--no-mqtt", "--inject", f"estop@{when}"])
    assert code == 2 and "--inject" in capsys.readouterr().err

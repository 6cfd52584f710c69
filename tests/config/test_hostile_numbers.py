"""Attacks with numbers a careless installer or an attacker could put in a file.

NaN compares False with everything, so a NaN limit silently switches its trip off
(``temp >= nan`` never holds): the machine once heated a pad to 46.3 °C with
``overtemp_trip_c = nan``. Every number that enters must be finite and in range, or refused
with the file, the field and the reason.
"""

import subprocess
import sys

import pytest
from pydantic import ValidationError

from controller.model.config import DEFAULT_CONFIG_PATH, ConfigError, load_config
from controller.model.limits import BOUNDS, SafetyLimits
from programs.library import load_program
from programs.schema import ProgramError
from tests.programs.test_program_files import good, write as write_program

DEFAULT = DEFAULT_CONFIG_PATH.read_text()


def refused(tmp_path, text: str) -> str:
    path = tmp_path / "machine.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert str(path) in msg, msg
    return msg


@pytest.mark.parametrize("name", sorted(BOUNDS))
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_non_finite_limit_is_refused(tmp_path, name, value):
    msg = refused(tmp_path, DEFAULT.replace("[limits]", f"[limits]\n{name} = {value}", 1))
    assert name in msg


@pytest.mark.parametrize("name", sorted(BOUNDS))
def test_no_limit_accepts_nan_in_code_either(name):
    with pytest.raises(ValidationError):
        SafetyLimits(**{name: float("nan")})


def test_overtemp_trip_nan_is_refused_naming_the_field(tmp_path):
    msg = refused(tmp_path, DEFAULT.replace("[limits]", "[limits]\novertemp_trip_c = nan", 1))
    assert "limits.overtemp_trip_c" in msg


def test_overpressure_trip_nan_is_refused(tmp_path):
    msg = refused(tmp_path, DEFAULT.replace("[limits]", "[limits]\noverpressure_trip_mmhg = nan", 1))
    assert "overpressure_trip_mmhg" in msg


@pytest.mark.parametrize("value", ["-5.0", "0.0"])
def test_a_negative_or_zero_pressure_limit_is_refused(tmp_path, value):
    msg = refused(tmp_path, DEFAULT.replace("[limits]", f"[limits]\nmax_pressure_mmhg = {value}", 1))
    assert "max_pressure_mmhg" in msg and "above 0" in msg


@pytest.mark.parametrize("line, field", [
    ("kp = nan", "heat.kp"), ("ki = inf", "heat.ki"), ("kd = -1.0", "heat.kd"),
    ("derivative_filter_s = nan", "heat.derivative_filter_s"),
])
def test_nan_or_negative_gains_are_refused(tmp_path, line, field):
    msg = refused(tmp_path, DEFAULT + f"\n[heat]\n{line}\n")
    assert field in msg


def with_socket_mode(mode: str) -> str:
    return DEFAULT.replace("[socket]\n", f"[socket]\nmode = {mode}\n", 1)


@pytest.mark.parametrize("mode", ["0o666", "0o662", "0o777", "0o664", "0o060"])
def test_a_socket_mode_looser_than_0660_is_refused(tmp_path, mode):
    msg = refused(tmp_path, with_socket_mode(mode))
    assert "socket" in msg and "0o600 or 0o660" in msg


@pytest.mark.parametrize("mode", ["0o660", "0o600"])
def test_socket_modes_0660_and_0600_are_accepted(tmp_path, mode):
    path = tmp_path / "machine.toml"
    path.write_text(with_socket_mode(mode))
    assert load_config(path).socket.mode == int(mode, 8)


def test_a_pressure_offset_beyond_the_calibration_limit_is_refused(tmp_path):
    text = DEFAULT.replace('zone = "left_foot"\nleg = "left"\nposition = "foot"\nfill_pin',
                           'zone = "left_foot"\nleg = "left"\nposition = "foot"\npressure_offset_mmhg = 40.0\nfill_pin', 1)
    assert text != DEFAULT
    msg = refused(tmp_path, text)
    assert "pressure_offset_mmhg" in msg


def test_cli_exits_2_naming_the_nan_field(tmp_path):
    path = tmp_path / "machine.toml"
    path.write_text(DEFAULT.replace("[limits]", "[limits]\novertemp_trip_c = nan", 1))
    proc = subprocess.run([sys.executable, "-m", "controller.app.cli", "run", "--sim", "--config", str(path),
                           "--state-dir", str(tmp_path / "state")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "overtemp_trip_c" in proc.stderr


@pytest.mark.parametrize("where, value", [("heat_c", "nan"), ("heat_c", "inf"), ("rest_s", "inf"),
                                          ("hold_s", "nan"), ("duration_s", "inf"), ("pressure_mmhg", "nan")])
def test_program_files_refuse_non_finite_numbers(tmp_path, where, value):
    data = good()
    v = float(value)
    if where == "heat_c":
        data["phases"][0]["heat_c"]["foot"] = v
    elif where == "duration_s":
        data["phases"][0]["duration_s"] = v
    elif where == "pressure_mmhg":
        data["phases"][1]["compression"]["pressure_mmhg"]["thigh"] = v
    else:
        data["phases"][1]["compression"][where] = v
    with pytest.raises(ProgramError) as err:
        load_program(write_program(tmp_path, data))
    assert where in str(err.value)

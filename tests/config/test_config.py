"""Bad configs are refused with the file, the field and the reason; the default board loads."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from controller.model.config import DEFAULT_CONFIG_PATH, ConfigError, load_config
from controller.model.limits import BOUNDS, SafetyLimits

DEFAULT = DEFAULT_CONFIG_PATH.read_text()


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "machine.toml"
    p.write_text(text)
    return p


def refused(tmp_path, text) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    msg = str(err.value)
    assert str(path) in msg, msg
    return msg


def test_default_board_has_the_fixed_zone_names():
    cfg = load_config()
    assert cfg.chamber_names == ["left_foot", "left_calf", "left_thigh", "right_foot", "right_calf", "right_thigh"]
    assert cfg.pad_names == ["left_foot", "left_calf", "right_foot", "right_calf"]
    assert cfg.roller_names == ["left_foot", "left_calf", "right_foot", "right_calf"]
    assert [c.position for c in cfg.chambers_of_leg("left")] == ["foot", "calf", "thigh"]


def test_default_limits_are_the_compiled_bounds():
    limits = SafetyLimits()
    for name, (bound, _) in BOUNDS.items():
        assert getattr(limits, name) == bound


def test_wrong_type_names_the_field(tmp_path):
    msg = refused(tmp_path, DEFAULT.replace("heartbeat_pin = 11", 'heartbeat_pin = "eleven"'))
    assert "board.heartbeat_pin" in msg


def test_unknown_key_names_the_field(tmp_path):
    msg = refused(tmp_path, DEFAULT.replace("[rates]", "[rates]\nturbo = true"))
    assert "rates.turbo" in msg and "unknown key" in msg


def test_duplicate_pin_names_both_users(tmp_path):
    msg = refused(tmp_path, DEFAULT.replace("pump_pin = 27", "pump_pin = 17"))
    assert "board.pump_pin" in msg and "board.relay_pin" in msg and "GPIO pin 17" in msg


def test_duplicate_heater_pin(tmp_path):
    msg = refused(tmp_path, DEFAULT.replace("heater_pin = 10", "heater_pin = 9"))
    assert "pads.left_calf.heater_pin" in msg


def test_two_chips_on_one_address(tmp_path):
    msg = refused(tmp_path, DEFAULT.replace("current_sensor_address = 0x41", "current_sensor_address = 0x40"))
    assert "rollers.left_calf.current_sensor_address" in msg and "0x40" in msg


def test_two_adcs_on_one_address(tmp_path):
    msg = refused(tmp_path, DEFAULT.replace("address = 0x4A", "address = 0x49"))
    assert "board.adcs.adc_right.address" in msg and "0x49" in msg


def test_raised_limit_is_refused(tmp_path):
    msg = refused(tmp_path, DEFAULT.replace("[limits]", "[limits]\novertemp_trip_c = 50.0", 1))
    assert "limits" in msg and "overtemp_trip_c" in msg and "compiled maximum 45" in msg


def test_loosened_minimum_limit_is_refused(tmp_path):
    msg = refused(tmp_path, DEFAULT.replace("[limits]", "[limits]\nheating_check_gain_c = 0.5", 1))
    assert "heating_check_gain_c" in msg and "compiled minimum" in msg


def test_lowered_limit_is_accepted(tmp_path):
    cfg = load_config(write(tmp_path, DEFAULT.replace("[limits]", "[limits]\nmax_pressure_mmhg = 80.0", 1)))
    assert cfg.limits.max_pressure_mmhg == 80.0


def test_unknown_adc_reference(tmp_path):
    msg = refused(tmp_path, DEFAULT.replace('thermistor = { adc = "adc_temp", channel = 3 }',
                                            'thermistor = { adc = "adc_nope", channel = 3 }'))
    assert "pads.right_calf.thermistor.adc" in msg and "adc_nope" in msg


def test_duplicate_zone_name(tmp_path):
    text = DEFAULT.replace('zone = "right_thigh"', 'zone = "left_thigh"')
    msg = refused(tmp_path, text)
    assert "chambers" in msg and "left_thigh" in msg


def test_not_toml(tmp_path):
    msg = refused(tmp_path, "this is [ not toml")
    assert "not valid TOML" in msg


def test_missing_file():
    with pytest.raises(ConfigError, match="file not found"):
        load_config("/nonexistent/machine.toml")


def test_bad_config_exits_non_zero_before_touching_pins(tmp_path):
    path = write(tmp_path, DEFAULT.replace("pump_pin = 27", "pump_pin = 17"))
    proc = subprocess.run([sys.executable, "-m", "controller.app.cli", "run", "--sim", "--config", str(path),
                           "--state-dir", str(tmp_path / "state")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "board.pump_pin" in proc.stderr
    assert not (tmp_path / "state").exists()  # refused before anything was built


def test_default_file_is_valid_toml_with_every_zone_wired():
    data = tomllib.loads(DEFAULT)
    assert len(data["chambers"]) == 6 and len(data["pads"]) == 4 and len(data["rollers"]) == 4

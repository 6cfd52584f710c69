"""Pi issue 5: on real hardware the lgpio pin factory is created in code; a missing or wrong
factory is a clear error at start, never gpiozero's silent fallback."""

import sys
import types

import pytest

from controller.app import cli
from drivers.pin_factory import PinFactoryError, make_pin_factory


def test_another_factory_asked_for_in_the_environment_is_refused():
    with pytest.raises(PinFactoryError, match="GPIOZERO_PIN_FACTORY='rpigpio'.*lgpio only"):
        make_pin_factory({"GPIOZERO_PIN_FACTORY": "rpigpio"})


def test_a_missing_lgpio_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "lgpio", None)  # import lgpio -> ImportError
    with pytest.raises(PinFactoryError, match="python3-lgpio"):
        make_pin_factory({})
    with pytest.raises(PinFactoryError, match="python3-lgpio"):
        make_pin_factory({"GPIOZERO_PIN_FACTORY": "lgpio"})


def test_lgpio_without_a_gpio_chip_says_so(monkeypatch):
    fake = types.ModuleType("lgpio")

    def no_chip(chip):
        raise OSError(2, "No such file or directory: '/dev/gpiochip0'")

    fake.gpiochip_open = no_chip
    for name in ("SET_PULL_NONE", "SET_PULL_UP", "SET_PULL_DOWN", "BOTH_EDGES", "RISING_EDGE", "FALLING_EDGE"):
        setattr(fake, name, 0)
    fake.error = OSError
    monkeypatch.setitem(sys.modules, "lgpio", fake)
    monkeypatch.delitem(sys.modules, "gpiozero.pins.lgpio", raising=False)
    with pytest.raises(PinFactoryError, match="cannot open the GPIO chip"):
        make_pin_factory({})


def test_the_daemon_on_hardware_without_lgpio_stops_at_start_with_the_reason(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "lgpio", None)
    monkeypatch.delenv("GPIOZERO_PIN_FACTORY", raising=False)
    code = cli.main(["run", "--state-dir", str(tmp_path / "state"), "--no-mqtt",
                     "--socket", str(tmp_path / "s.sock")])
    assert code == cli.EXIT_FAILED
    assert "lgpio is not importable" in capsys.readouterr().err


def test_the_gpio_only_safe_state_without_lgpio_fails_loudly(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "lgpio", None)
    from controller.model.config import load_config

    assert cli._gpio_only_safe_state(load_config()) == cli.EXIT_FAILED
    assert "python3-lgpio" in capsys.readouterr().err

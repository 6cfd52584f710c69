"""The start-up check names the boot setting that takes a pin of the config, from a device tree
laid out as the Raspberry Pi firmware hands it to Linux (fake files here)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import controller.app.daemon as daemon
from controller.app import pi_checks
from controller.app.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from controller.app.pi_checks import check_kernel_pins, config_gpio_pins, explain_gpio_busy, kernel_pin_conflicts
from controller.model.config import load_config

DEFAULT_BOARD = Path(__file__).resolve().parents[2] / "controller" / "boards" / "default.toml"
PI4_SPI0 = "/soc/spi@7e204000"
PI5_SPI0 = "/axi/pcie@120000/rp1/spi@50000"
CMDLINE = "coherent_pool=1M 8250.nr_uarts=1 console=tty1 root=PARTUUID=1234-02 rootfstype=ext4 fsck.repair=yes"


def fake_device_tree(root: Path, *, spi0: str = PI4_SPI0, spi_status: str | None = "disabled",
                     bootargs: str = CMDLINE) -> Path:
    """Properties are NUL-terminated strings, as in /sys/firmware/devicetree/base."""
    (root / "aliases").mkdir(parents=True)
    (root / "aliases" / "spi0").write_bytes(spi0.encode() + b"\0")
    node = root / spi0.lstrip("/")
    node.mkdir(parents=True)
    if spi_status is not None:
        (node / "status").write_bytes(spi_status.encode() + b"\0")
    (root / "chosen").mkdir()
    (root / "chosen" / "bootargs").write_bytes(bootargs.encode() + b"\0")
    return root


@pytest.fixture
def default_pins():
    return config_gpio_pins(load_config(DEFAULT_BOARD))


def test_the_default_board_uses_the_spi0_and_uart_pins(default_pins):
    assert {7, 8, 9, 10, 11, 14, 15} <= default_pins and 21 in default_pins and 4 in default_pins


def test_a_stock_boot_configuration_has_no_conflict(tmp_path, default_pins):
    assert kernel_pin_conflicts(default_pins, fake_device_tree(tmp_path)) == []


@pytest.mark.parametrize("spi0", [PI4_SPI0, PI5_SPI0])
def test_spi_on_names_the_pins_and_the_setting(tmp_path, default_pins, spi0):
    tree = fake_device_tree(tmp_path, spi0=spi0, spi_status="okay")
    assert [str(c) for c in kernel_pin_conflicts(default_pins, tree)] == [
        "GPIO 7, 8, 9, 10 and 11 are held by SPI0: set dtparam=spi=off in /boot/firmware/config.txt"]


def test_a_node_without_status_is_enabled(tmp_path):
    tree = fake_device_tree(tmp_path, spi_status=None)
    assert [str(c) for c in kernel_pin_conflicts({7, 8}, tree)] == [
        "GPIO 7 and 8 are held by SPI0: set dtparam=spi=off in /boot/firmware/config.txt"]


def test_spi_on_is_fine_for_a_board_that_leaves_its_pins_alone(tmp_path):
    tree = fake_device_tree(tmp_path, spi_status="okay")
    assert kernel_pin_conflicts({4, 5, 6, 12, 21}, tree) == []


@pytest.mark.parametrize("console", ["ttyS0", "ttyAMA0", "serial0"])
def test_a_serial_console_on_the_header_names_cmdline_txt(tmp_path, default_pins, console):
    tree = fake_device_tree(tmp_path, bootargs=f"console={console},115200 {CMDLINE}")
    [conflict] = kernel_pin_conflicts(default_pins, tree)
    assert conflict.pins == (14, 15)
    text = str(conflict)
    assert text.startswith(f"GPIO 14 and 15 are held by the serial console (console={console}): ")
    assert "console=serial0,115200" in text and "/boot/firmware/cmdline.txt" in text and "enable_uart=0" in text


def test_the_pi5_debug_uart_console_is_not_on_the_header(tmp_path, default_pins):
    tree = fake_device_tree(tmp_path, bootargs=f"console=ttyAMA10,115200 {CMDLINE}")
    assert kernel_pin_conflicts(default_pins, tree) == []


def test_both_at_once_and_the_reboot_hint(tmp_path):
    tree = fake_device_tree(tmp_path, spi_status="okay", bootargs=f"console=ttyS0,115200 {CMDLINE}")
    problems = check_kernel_pins(load_config(DEFAULT_BOARD), tree)
    assert len(problems) == 2 and all(p.endswith(", then reboot") for p in problems)
    assert problems[0].startswith("GPIO 7, 8, 9, 10 and 11 are held by SPI0") and "GPIO 14 and 15" in problems[1]


def test_no_device_tree_no_conflict(tmp_path, default_pins):
    assert kernel_pin_conflicts(default_pins, tmp_path / "absent") == []


def test_gpio_busy_is_explained_through_wrapping_exceptions():
    class LgpioError(Exception):
        pass

    try:
        try:
            raise LgpioError("'GPIO busy'")
        except LgpioError as inner:
            raise RuntimeError("pin 21 could not be claimed") from inner
    except RuntimeError as outer:
        hint = explain_gpio_busy(outer)
    assert hint is not None and "/boot/firmware/config.txt" in hint and "dtoverlay=" in hint
    assert explain_gpio_busy(OSError("No such file or directory: '/dev/i2c-1'")) is None


@pytest.fixture
def spi_on(tmp_path, monkeypatch):
    monkeypatch.setattr(pi_checks, "DEVICE_TREE", fake_device_tree(tmp_path / "dt", spi_status="okay"))


def test_the_daemon_refuses_to_start_before_claiming_a_pin(spi_on, monkeypatch, capsys):
    async def must_not_run(opts, **kw):
        raise AssertionError("the machine was built despite SPI0 holding its pins")

    monkeypatch.setattr(daemon, "run_machine", must_not_run)
    assert main(["run", "--config", str(DEFAULT_BOARD), "--no-mqtt"]) == EXIT_USAGE
    assert ("legtherapy: GPIO 7, 8, 9, 10 and 11 are held by SPI0: set dtparam=spi=off in "
            "/boot/firmware/config.txt, then reboot") in capsys.readouterr().err


def test_gpio_busy_at_start_exits_with_the_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pi_checks, "DEVICE_TREE", tmp_path / "absent")

    async def busy(opts, **kw):
        await asyncio.sleep(0)
        raise RuntimeError("'GPIO busy'")

    monkeypatch.setattr(daemon, "run_machine", busy)
    assert main(["run", "--config", str(DEFAULT_BOARD), "--no-mqtt"]) == EXIT_FAILED
    assert "held by a kernel driver (lgpio: GPIO busy)" in capsys.readouterr().err


def test_the_simulator_ignores_the_hosts_boot_settings(spi_on, tmp_path):
    assert main(["run", "--sim", "--speed", "0", "--max-runtime", "0.5", "--no-mqtt",
                 "--state-dir", str(tmp_path / "state")]) == EXIT_OK

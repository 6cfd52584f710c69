"""The config.txt block the package installs drives exactly the board's output pins low from
power-on, and its markers let postinst and postrm find it again."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path

from controller.machine.board import build_board, make_simulator
from controller.model.config import load_config

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BOARD = REPO / "controller" / "boards" / "default.toml"


def generator():
    spec = importlib.util.spec_from_file_location("boot_config", REPO / "packaging" / "boot_config.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def board_pins_by_function() -> dict[str, set[int]]:
    """What the real Board claims, seen through the simulator's mock pin factory."""
    cfg = load_config(DEFAULT_BOARD)
    sim = make_simulator(cfg, lambda: 0.0)
    board = build_board(cfg, sim=sim)
    try:
        pins: dict[str, set[int]] = {}
        for info, pin in sim.pin_factory.pins.items():
            pins.setdefault(pin.function, set()).add(int(info.name.removeprefix("GPIO")))
        return pins
    finally:
        board.close()


def test_the_block_drives_every_output_of_the_board_low_and_no_input():
    gen = generator()
    pins = board_pins_by_function()
    assert gen.output_pins(tomllib.loads(DEFAULT_BOARD.read_text())) == sorted(pins["output"])
    block = gen.boot_block(tomllib.loads(DEFAULT_BOARD.read_text())).splitlines()
    [line] = [x for x in block if x.startswith("gpio=")]
    assert line == "gpio=9-13,16-20,22-27=op,dl"
    assert not pins["input"] & set(pins["output"])  # buttons (4-8, 14, 15, 21) keep their pulls


def test_pin_ranges_in_the_firmware_syntax():
    pin_list = generator().pin_list
    assert pin_list([4, 5, 6, 12, 13, 16, 17, 18, 19, 20, 22, 23, 24, 25, 26, 27]) == "4-6,12,13,16-20,22-27"
    assert pin_list([17]) == "17"
    assert pin_list([27, 5, 4]) == "4,5,27"


def test_the_block_turns_i2c_on_and_spi_and_uart_off_inside_its_markers():
    block = generator().boot_block(tomllib.loads(DEFAULT_BOARD.read_text())).splitlines()
    assert block[0].startswith("# BEGIN legtherapy") and block[-1] == "# END legtherapy"
    inner = block[1:-1]
    assert not any(x.startswith(("# BEGIN legtherapy", "# END legtherapy")) for x in inner)
    assert inner[0] == "[all]"  # not inside a [pi4] or [cm4] section that precedes the block
    settings = [x for x in inner if x and not x.startswith("#")]
    for wanted in ("dtparam=i2c_arm=on", "dtparam=i2c_arm_baudrate=400000", "dtparam=spi=off", "enable_uart=0"):
        assert wanted in settings


def test_postinst_and_postrm_use_the_same_markers():
    debian = REPO / "packaging" / "debian"
    postinst = (debian / "legtherapy.postinst").read_text()
    postrm = (debian / "legtherapy.postrm").read_text()
    assert 'BEGIN_MARK="# BEGIN legtherapy"' in postinst and 'END_MARK="# END legtherapy"' in postinst
    assert "/^# BEGIN legtherapy/,/^# END legtherapy/d" in postrm


def test_the_install_guide_shows_the_block_the_package_installs():
    guide = (REPO / "systemd" / "README.md").read_text()
    shown = guide.split("## 2. Boot settings", 1)[1].split("```\n", 2)[1].splitlines()
    block = generator().boot_block(tomllib.loads(DEFAULT_BOARD.read_text())).splitlines()
    settings = [x for x in block[1:-1] if not x.startswith("#")]
    assert shown == [block[0], *settings, block[-1]]

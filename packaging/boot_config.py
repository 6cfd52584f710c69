"""The Raspberry Pi boot settings of a board config, as the block postinst puts in config.txt.

    python3 packaging/boot_config.py controller/boards/default.toml > boot-config.txt

The firmware applies config.txt before Linux starts, so these lines hold from power-on until
the controller claims its pins: every output pin driven low (heaters, pump, motors, relay
coil, heartbeat off: nothing floats into a half-on MOSFET during the ~20 s boot), I2C bus 1 on
at 400 kHz, and SPI0 and the UART off because buttons, heaters and the heartbeat sit on their
pins (GPIO 7-11, 14, 15).
Stdlib only (tomllib): it runs at package build time, before any dependency is installed.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

BEGIN = "# BEGIN legtherapy: installed by the legtherapy package, rewritten on upgrade, removed on purge"
END = "# END legtherapy"


def output_pins(board_config: dict) -> list[int]:
    """GPIO pins the controller drives as outputs (BCM numbers): heartbeat, relay, pump,
    buzzer, heaters, roller PWM and direction. Buttons and the expander's pins are not."""
    board = board_config["board"]
    pins = {board["heartbeat_pin"], board["relay_pin"], board["pump_pin"], board["buzzer_pin"]}
    pins |= {pad["heater_pin"] for pad in board_config.get("pads", [])}
    for roller in board_config.get("rollers", []):
        pins |= {roller["pwm_pin"], roller["dir_pin"]}
    return sorted(pins)


def pin_list(pins: list[int]) -> str:
    """The firmware's gpio= syntax: runs of three or more as a range (4-6), others listed."""
    runs: list[list[int]] = []
    for pin in sorted(pins):
        if runs and pin == runs[-1][-1] + 1:
            runs[-1].append(pin)
        else:
            runs.append([pin])
    parts = [f"{r[0]}-{r[-1]}" if len(r) >= 3 else ",".join(map(str, r)) for r in runs]
    return ",".join(parts)


def boot_block(board_config: dict) -> str:
    return "\n".join([
        BEGIN,
        "[all]",
        "# I2C bus 1: sensors, ADCs, expander; 400 kHz so a thermal tick's reads fit the scan period.",
        "dtparam=i2c_arm=on",
        "dtparam=i2c_arm_baudrate=400000",
        "# Buttons on GPIO 7, 8, 14, 15, heaters and heartbeat on 9-11: SPI0 would hold 7 and 8,",
        "# the UART would drive 14 (TX).",
        "dtparam=spi=off",
        "enable_uart=0",
        "# Every output pin low from power-on until the controller takes over.",
        f"gpio={pin_list(output_pins(board_config))}=op,dl",
        END,
    ]) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: boot_config.py BOARD.toml", file=sys.stderr)
        return 2
    sys.stdout.write(boot_block(tomllib.loads(Path(argv[0]).read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

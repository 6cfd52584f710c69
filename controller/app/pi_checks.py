"""Start-up check on a Raspberry Pi: no GPIO pin of the config is taken by a kernel setting.

Boot settings decide who owns a header pin before the controller starts. The default board has
buttons, heaters and the heartbeat on SPI0's pins (GPIO 7-11) and buttons on the UART's (14,
15): with SPI on, the kernel claims GPIO 7 and 8 as chip selects and lgpio answers a bare "GPIO busy"; with the serial console on, the
UART drives TX (GPIO 14) at boot and a pressed button shorts it. This check names the pins and
the setting to change before any pin is claimed.

It reads the device tree the firmware handed to Linux under /sys/firmware/devicetree/base: it
needs no root, and the unit's ProcSubset=pid hides /proc/device-tree and /proc/cmdline. A
machine without a device tree (a laptop, CI) has no such conflicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from controller.model.config import MachineConfig

DEVICE_TREE = Path("/sys/firmware/devicetree/base")
BOOT_CONFIG = "/boot/firmware/config.txt"
# BCM pins of SPI0 (CE1, CE0, MISO, MOSI, SCLK) and of the UART on the header (TX, RX): the same
# on every 40-pin Pi, Pi 5 included.
SPI0_PINS = frozenset({7, 8, 9, 10, 11})
UART_PINS = frozenset({14, 15})
# Consoles on GPIO 14/15. The firmware rewrites console=serial0 in cmdline.txt to the tty it maps
# there: ttyS0 (mini UART, Pi 3/4) or ttyAMA0 (PL011: Pi 5, or a Pi 4 with disable-bt); the
# Pi 5's ttyAMA10 is its separate debug connector, not the header.
HEADER_CONSOLES = frozenset({"serial0", "ttyS0", "ttyAMA0"})


@dataclass(frozen=True)
class PinConflict:
    pins: tuple[int, ...]
    holder: str
    fix: str

    def __str__(self) -> str:
        verb = "is" if len(self.pins) == 1 else "are"
        return f"GPIO {_spoken(self.pins)} {verb} held by {self.holder}: {self.fix}"


def config_gpio_pins(cfg: MachineConfig) -> set[int]:
    """Every header pin the config uses (BCM), outputs and buttons; the expander's are not."""
    b = cfg.board
    pins = {b.heartbeat_pin, b.relay_pin, b.pump_pin, b.buzzer_pin, *b.buttons.model_dump().values()}
    pins |= {p.heater_pin for p in cfg.pads}
    for r in cfg.rollers:
        pins |= {r.pwm_pin, r.dir_pin}
    return pins


def kernel_pin_conflicts(pins: Iterable[int], device_tree: Path | None = None) -> list[PinConflict]:
    device_tree = device_tree or DEVICE_TREE
    used = set(pins)
    conflicts = []
    spi = sorted(used & SPI0_PINS)
    if spi and _alias_enabled(device_tree, "spi0"):
        conflicts.append(PinConflict(tuple(spi), "SPI0", f"set dtparam=spi=off in {BOOT_CONFIG}"))
    uart = sorted(used & UART_PINS)
    consoles = [c for c in _consoles(device_tree) if c in HEADER_CONSOLES]
    if uart and consoles:
        conflicts.append(PinConflict(
            tuple(uart), f"the serial console (console={consoles[0]})",
            "remove console=serial0,115200 from /boot/firmware/cmdline.txt and set enable_uart=0 in "
            f"{BOOT_CONFIG} (or: sudo raspi-config nonint do_serial_cons 1)"))
    return conflicts


def check_kernel_pins(cfg: MachineConfig, device_tree: Path | None = None) -> list[str]:
    """The problems to report before start, one sentence each (empty: none)."""
    return [f"{c}, then reboot" for c in kernel_pin_conflicts(config_gpio_pins(cfg), device_tree)]


def explain_gpio_busy(err: BaseException) -> str | None:
    """lgpio's 'GPIO busy' (a pin held by a kernel driver that the check above does not know,
    such as a dtoverlay), as a sentence saying where to look; None for any other error."""
    seen: BaseException | None = err
    while seen is not None:
        if "gpio busy" in str(seen).lower():
            return ("a GPIO pin of the config is held by a kernel driver (lgpio: GPIO busy): look for a "
                    f"dtoverlay= or dtparam= line in {BOOT_CONFIG} that uses one of its pins "
                    "(gpioinfo, from the gpiod package, names the holder)")
        seen = seen.__cause__ or seen.__context__
    return None


def _read_string(path: Path) -> str | None:
    try:
        return path.read_bytes().rstrip(b"\0").decode("ascii", "replace")
    except OSError:
        return None


def _alias_enabled(device_tree: Path, alias: str) -> bool:
    """The node an alias names exists and is enabled (no status property means enabled)."""
    node_path = _read_string(device_tree / "aliases" / alias)
    if not node_path:
        return False
    node = device_tree / node_path.lstrip("/")
    if not node.is_dir():
        return False
    status = _read_string(node / "status")
    return status is None or status in ("okay", "ok")


def _consoles(device_tree: Path) -> list[str]:
    """The console= devices of the kernel command line, as the firmware passed it."""
    bootargs = _read_string(device_tree / "chosen" / "bootargs") or ""
    return [arg.split("=", 1)[1].split(",", 1)[0] for arg in bootargs.split() if arg.startswith("console=")]


def _spoken(pins: tuple[int, ...]) -> str:
    names = [str(p) for p in pins]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"

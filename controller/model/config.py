"""The machine's one config model, loaded from TOML and validated once.

Pins, I2C addresses, zone names and limits live here and nowhere else in the code. A bad file
is refused with the file, the field and the reason (``ConfigError``) before any pin is touched.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from controller.model.bounded_json import MAX_TOML_BYTES, MAX_TOML_DEPTH, JsonRefused, check_bounds
from controller.model.limits import SafetyLimits

DEFAULT_CONFIG_PATH = Path(__file__).parents[1] / "boards" / "default.toml"

Leg = Literal["left", "right"]
ChamberPosition = Literal["foot", "calf", "thigh"]
PadPosition = Literal["foot", "calf"]
RollerPosition = Literal["foot", "calf"]
RollerDirection = Literal["forward", "reverse"]
#: distal -> proximal: the order every compression wave runs in (always toward the heart).
CHAMBER_ORDER: tuple[str, ...] = ("foot", "calf", "thigh")

GpioPin = int
#: a zero offset larger than this is a sensor or hose fault, not an offset (calibration refuses it too)
MAX_PRESSURE_OFFSET_MMHG = 15.0
I2cAddress = int
#: GPIO 0-8 are pulled high at reset, 9-27 low (BCM2711 datasheet 5.3, RP1 the same)
FIRST_BOOT_LOW_PIN = 9


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ConfigError(Exception):
    """A config file was refused; the message names the file, the field and the reason."""


class AdcChip(_Strict):
    address: I2cAddress = Field(ge=0x48, le=0x4B)  # ADS1115 ADDR pin: GND, VDD, SDA, SCL
    fs_v: float = Field(4.096, gt=0.0, le=6.144)  # ADS1115 PGA full-scale ranges
    data_rate_sps: int = Field(860, ge=8, le=860)


class AdcChannel(_Strict):
    adc: str
    channel: int = Field(ge=0, le=3)


class Buttons(_Strict):
    power: GpioPin
    start_pause: GpioPin
    stop: GpioPin
    program: GpioPin
    intensity_up: GpioPin
    intensity_down: GpioPin
    heat: GpioPin
    estop: GpioPin  # normally closed to GND: open circuit = stop


class Leds(_Strict):
    """Status LEDs, on the expander (pin numbers 0-15)."""

    run: int = Field(ge=0, le=15)
    pause: int = Field(ge=0, le=15)
    fault: int = Field(ge=0, le=15)
    heat: int = Field(ge=0, le=15)


class Thermistor(_Strict):
    r25_ohm: float = Field(10_000.0, gt=0.0)
    beta: float = Field(3950.0, gt=0.0)
    series_ohm: float = Field(10_000.0, gt=0.0)
    supply_v: float = Field(3.3, gt=0.0, le=5.5)


class PressureSensor(_Strict):
    range_mmhg: float = Field(300.0, gt=0.0)
    supply_v: float = Field(3.3, gt=0.0, le=5.5)


class Board(_Strict):
    i2c_bus: int = Field(1, ge=0, le=255)
    #: the I2C bus clock the kernel runs (``dtparam=i2c_arm_baudrate``): standard mode 100 kHz
    #: up to fast-mode plus 1 MHz (UM10204); the simulator times its bus at this clock, and a bus
    #: too slow for the scan rate makes the machine choose a lower one at start
    i2c_clock_hz: int = Field(400_000, ge=10_000, le=1_000_000)
    heartbeat_pin: GpioPin
    relay_pin: GpioPin
    pump_pin: GpioPin
    buzzer_pin: GpioPin
    pump_pwm_hz: float = Field(1000.0, gt=0.0, le=40_000.0)
    motor_pwm_hz: float = Field(1000.0, gt=0.0, le=40_000.0)
    heater_period_s: float = Field(2.0, gt=0.1, le=10.0)
    expander_address: I2cAddress = Field(0x20, ge=0x20, le=0x27)
    adcs: dict[str, AdcChip]
    buttons: Buttons
    leds: Leds
    thermistor: Thermistor = Thermistor()
    pressure_sensor: PressureSensor = PressureSensor()
    roller_shunt_ohm: float = Field(0.1, gt=0.0)
    roller_max_current_a: float = Field(3.2, gt=0.0)
    roller_stall_current_a: float = Field(1.8, gt=0.0)  # the gear motor's datasheet stall current at full duty
    #: which motor direction moves a roller toward the heart (how the motor is mounted and
    #: wired); a glide runs that way. A roller may override it (``rollers[].toward_heart``).
    roller_toward_heart: RollerDirection = "forward"


class PadZone(_Strict):
    zone: str
    leg: Leg
    position: PadPosition
    heater_pin: GpioPin
    thermistor: AdcChannel
    digital_sensor_address: I2cAddress = Field(ge=0x18, le=0x1F)  # MCP9808 A2..A0
    thermistor_offset_c: float = Field(0.0, ge=-5.0, le=5.0)  # a larger correction hides a fault


class ChamberZone(_Strict):
    zone: str
    leg: Leg
    position: ChamberPosition
    fill_pin: int = Field(ge=0, le=15)  # expander pin
    vent_pin: int = Field(ge=0, le=15)
    pressure: AdcChannel
    pressure_offset_mmhg: float = Field(0.0, ge=-MAX_PRESSURE_OFFSET_MMHG, le=MAX_PRESSURE_OFFSET_MMHG)


class RollerZone(_Strict):
    zone: str
    leg: Leg
    position: RollerPosition
    pwm_pin: GpioPin
    dir_pin: GpioPin
    current_sensor_address: I2cAddress = Field(ge=0x40, le=0x4F)  # INA219 A1/A0
    toward_heart: RollerDirection | None = None  # None: the board's roller_toward_heart


class Therapy(_Strict):
    """How a session is dosed around the program: pre-heat and the guide's daily amount."""

    #: pads heat before the first stroke until within this of their target ("warm hands")
    preheat_band_c: float = Field(1.0, gt=0.0, le=5.0)
    #: the longest pre-heat (it counts inside the session limit, so it is also capped by it)
    preheat_max_s: float = Field(240.0, ge=0.0, le=600.0)
    #: "5 to 10 minutes per leg daily": past this many minutes on a leg in one day, a notice
    daily_minutes_per_leg_notice: float = Field(10.0, gt=0.0, le=24 * 60.0)


class Rates(_Strict):
    fast_hz: float = Field(50.0, ge=5.0, le=200.0)
    #: the heat PID steps every Nth tick (50 Hz / 12 ≈ 4 Hz), and no pad goes unread longer than N
    #: ticks: the board reads the pads in rotation, ceil(pads / N) a tick (one a tick by default,
    #: so each pad every 4th tick), rather than every pad on every Nth tick
    thermal_every_n_ticks: int = Field(12, ge=1, le=100)

    @property
    def period_s(self) -> float:
        return 1.0 / self.fast_hz


class HeatControl(_Strict):
    """PID gains in duty per °C (and per °C·s, °C/s) for a pad that is not commissioned;
    commissioning (gains from the pad's measured step) and autotune override them per pad.

    The defaults are the uncommissioned unit's: on every thermal corner of the variation
    envelope (mass 0.5-3x, power 70-130 %, sensor lag 1-4x, room 15-30 °C; targets 38-42 °C) they
    overshoot ≤ 0.47 °C and settle within ±0.02 °C, and rise within 1.3x full power except on four
    light (0.5x) pads — strong or in a warm room — where they take up to 1.73x (~65 s against
    37.5 s at full power). No one gain set does all
    three on every corner — the look-ahead a heavy, laggy pad needs holds a light one back — so
    commissioning scales them to the pad (tests/controllers/test_heat_envelope.py)."""

    kp: float = Field(0.8, ge=0.0, le=100.0)
    ki: float = Field(0.004, ge=0.0, le=10.0)
    kd: float = Field(13.0, ge=0.0, le=1000.0)
    derivative_filter_s: float = Field(4.0, gt=0.0, le=600.0)
    max_duty: float = Field(1.0, gt=0.0, le=1.0)


class CompressionControl(_Strict):
    pump_max_duty: float = Field(1.0, gt=0.0, le=1.0)
    pump_min_duty: float = Field(0.5, ge=0.0, le=1.0)  # near stall pressure less than this barely moves air
    approach_band_mmhg: float = Field(8.0, ge=0.0, le=50.0)  # pump slows over the last part of a fill (bench: fills 1.04-1.15x full flow, no overshoot)
    stop_early_mmhg: float = Field(0.6, ge=0.0, le=10.0)  # close the valve this far before target: sensor + valve lag


class RollerControl(_Strict):
    ramp_per_s: float = Field(2.0, gt=0.0, le=100.0)  # soft start/stop: full speed in 0.5 s


class TlsSettings(_Strict):
    ca_file: str | None = None
    certfile: str | None = None
    keyfile: str | None = None


class MqttSettings(_Strict):
    enabled: bool = True
    host: str = "localhost"
    port: int = Field(1883, ge=1, le=65535)
    client_id: str | None = None
    username: str | None = None
    #: inline password: works, but the config file is readable by the technicians' group, so the
    #: daemon warns; prefer the systemd credential ``mqtt_password`` or ``password_file`` (0600).
    password: str | None = None
    password_file: str | None = None
    tls: TlsSettings | None = None
    #: names the MQTT topics and every Home Assistant id; see ``valid_device_id``
    device_id: str = "legtherapy1"
    base_topic: str = "legtherapy"
    discovery_prefix: str = "homeassistant"
    state_interval_s: float = Field(5.0, gt=0.0, le=60.0)
    max_payload_bytes: int = Field(4096, ge=256, le=65536)
    max_commands_per_s: float = Field(20.0, gt=0.0, le=1000.0)

    @field_validator("device_id")
    @classmethod
    def _device_id(cls, value: str) -> str:
        return valid_device_id(value)


#: lowercase letters and digits, words joined by single underscores: what a Home Assistant
#: object id allows (no leading, trailing or doubled '_'), and safe in any MQTT topic level
_DEVICE_ID = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")
DEVICE_ID_MAX = 64


def valid_device_id(value: str) -> str:
    """The device id as given, or ``ValueError`` saying why not and what would do.

    It is used verbatim in topics and ids, never rewritten: ``Leg-1`` and ``leg_1`` once
    became the same Home Assistant unique ids, so two machines took over each other's entities."""
    if len(value) > DEVICE_ID_MAX or not _DEVICE_ID.match(value):
        suggestion = re.sub(r"_+", "_", re.sub(r"[^a-z0-9]", "_", value.lower())).strip("_")[:DEVICE_ID_MAX]
        hint = f" (for example {suggestion!r})" if suggestion and _DEVICE_ID.match(suggestion) else ""
        raise ValueError(
            f"device id {value!r} must be 1-{DEVICE_ID_MAX} lowercase letters and digits, words joined by "
            f"single underscores{hint}: it names the MQTT topics and the Home Assistant ids, where "
            "'Leg-1' and 'leg_1' would be the same device")
    return value


class SocketSettings(_Strict):
    path: str = "/run/legtherapy/legtherapy.sock"
    group: str | None = "legtherapy"
    mode: int = 0o660

    @model_validator(mode="after")
    def _not_looser_than_0660(self) -> "SocketSettings":
        # The file mode is the access control: "other" bits would let any local user reset a lockout.
        if self.mode & ~0o660 or not self.mode & 0o600 == 0o600:
            raise ValueError(f"mode = 0o{self.mode:o} must be 0o600 or 0o660 (owner read/write, never other users)")
        return self


class MachineConfig(_Strict):
    state_dir: str = "/var/lib/legtherapy"
    board: Board
    pads: list[PadZone]
    chambers: list[ChamberZone]
    rollers: list[RollerZone]
    limits: SafetyLimits = SafetyLimits()
    rates: Rates = Rates()
    heat: HeatControl = HeatControl()
    compression: CompressionControl = CompressionControl()
    roller_control: RollerControl = RollerControl()
    therapy: Therapy = Therapy()
    mqtt: MqttSettings = MqttSettings()
    socket: SocketSettings = SocketSettings()

    @model_validator(mode="after")
    def _wiring_is_consistent(self) -> "MachineConfig":
        errors: list[str] = []
        b = self.board

        for family, zones in (("pads", self.pads), ("chambers", self.chambers), ("rollers", self.rollers)):
            names = Counter(z.zone for z in zones)
            errors += [f"{family}: zone {n!r} appears {c} times" for n, c in names.items() if c > 1]
            places = Counter((z.leg, z.position) for z in zones)
            errors += [f"{family}: {leg} {pos} appears {c} times" for (leg, pos), c in places.items() if c > 1]

        outputs: list[tuple[str, int]] = [
            ("board.heartbeat_pin", b.heartbeat_pin),
            ("board.relay_pin", b.relay_pin),
            ("board.pump_pin", b.pump_pin),
            ("board.buzzer_pin", b.buzzer_pin),
        ]
        outputs += [(f"pads.{p.zone}.heater_pin", p.heater_pin) for p in self.pads]
        for r in self.rollers:
            outputs += [(f"rollers.{r.zone}.pwm_pin", r.pwm_pin), (f"rollers.{r.zone}.dir_pin", r.dir_pin)]
        gpio = outputs + [(f"board.buttons.{k}", v) for k, v in b.buttons.model_dump().items()]
        errors += _duplicates("GPIO pin", gpio)
        # The Pi pulls GPIO 0-8 high from reset until the firmware's gpio= line runs: an output
        # there (a heater gate, the relay driver) would switch on through every boot.
        errors += [f"{where}: GPIO {pin} is pulled high at boot; outputs belong on GPIO {FIRST_BOOT_LOW_PIN}-27"
                   for where, pin in outputs if 4 <= pin < FIRST_BOOT_LOW_PIN]
        errors += [f"{where}: GPIO {pin} is not a usable BCM pin (4-27; 2 and 3 are I2C)"
                   for where, pin in gpio if not 4 <= pin <= 27]

        exp: list[tuple[str, int]] = [(f"board.leds.{k}", v) for k, v in b.leds.model_dump().items()]
        for c in self.chambers:
            exp += [(f"chambers.{c.zone}.fill_pin", c.fill_pin), (f"chambers.{c.zone}.vent_pin", c.vent_pin)]
        errors += _duplicates("expander pin", exp)

        i2c: list[tuple[str, int]] = [("board.expander_address", b.expander_address)]
        i2c += [(f"board.adcs.{name}.address", a.address) for name, a in b.adcs.items()]
        i2c += [(f"pads.{p.zone}.digital_sensor_address", p.digital_sensor_address) for p in self.pads]
        i2c += [(f"rollers.{r.zone}.current_sensor_address", r.current_sensor_address) for r in self.rollers]
        errors += _duplicates("I2C address", i2c, fmt=lambda a: f"0x{a:02X}")

        channels = [(f"pads.{p.zone}.thermistor", p.thermistor) for p in self.pads]
        channels += [(f"chambers.{c.zone}.pressure", c.pressure) for c in self.chambers]
        for where, ch in channels:
            if ch.adc not in b.adcs:
                errors.append(f"{where}.adc: no ADC named {ch.adc!r} in board.adcs ({', '.join(sorted(b.adcs))})")
        errors += _duplicates("ADC channel", [(w, f"{c.adc}:{c.channel}") for w, c in channels], fmt=str)

        if errors:
            raise ValueError("; ".join(errors))
        return self

    # Convenience views used everywhere; order is the file's order.
    @property
    def pad_names(self) -> list[str]:
        return [p.zone for p in self.pads]

    @property
    def chamber_names(self) -> list[str]:
        return [c.zone for c in self.chambers]

    @property
    def roller_names(self) -> list[str]:
        return [r.zone for r in self.rollers]

    def toward_heart_sign(self, roller: str) -> float:
        """+1.0 if a positive speed moves ``roller`` toward the heart, else -1.0."""
        zone = next(r for r in self.rollers if r.zone == roller)
        direction = zone.toward_heart or self.board.roller_toward_heart
        return 1.0 if direction == "forward" else -1.0

    def chambers_of_leg(self, leg: str) -> list[ChamberZone]:
        """A leg's chambers distal -> proximal (foot, calf, thigh): the wave order."""
        return sorted((c for c in self.chambers if c.leg == leg), key=lambda c: CHAMBER_ORDER.index(c.position))


def _duplicates(kind: str, items: list[tuple[str, object]], fmt=str) -> list[str]:
    seen: dict[object, str] = {}
    out = []
    for where, value in items:
        if value in seen:
            out.append(f"{where}: {kind} {fmt(value)} is already used by {seen[value]}")
        else:
            seen[value] = where
    return out


def _format_validation_error(path: Path | str, err: ValidationError) -> str:
    lines = [f"config {path} is invalid:"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (not part of the machine config)"
        lines.append(f"  {loc}: {msg}")
    return "\n".join(lines)


def parse_config(data: dict, source: Path | str = "<memory>") -> MachineConfig:
    try:
        return MachineConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_validation_error(source, err)) from None


def load_config(path: Path | str | None = None, overrides: dict | None = None) -> MachineConfig:
    """Load and validate a machine config. ``overrides`` are deep-merged (command-line flags)."""
    path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(check_bounds(text, max_bytes=MAX_TOML_BYTES, max_depth=MAX_TOML_DEPTH, toml=True))
    except FileNotFoundError:
        raise ConfigError(f"config {path}: file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"config {path}: cannot be read: {err}") from None
    except JsonRefused as err:  # too large or too deep: tomllib would recurse to a RecursionError
        raise ConfigError(f"config {path}: refused: {err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config {path}: not valid TOML: {err}") from None
    if overrides:
        data = _deep_merge(data, overrides)
    return parse_config(data, path)


def _deep_merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out

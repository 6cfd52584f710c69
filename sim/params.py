"""Plant constants for the simulator: the numbers the physics models are built from.

Validated once here (pydantic, unknown keys refused) so the `step` methods can trust plain
floats. Every default is written out, with its source, in `sim/default_params.toml`; a test
keeps the two in agreement. The numbers are typical-product values, chosen so the simulated
machine behaves like a real one in the ways the controller cares about: a pad at full power
really overheats (the interlocks have something to stop), a chamber fills in seconds and
vents in about one, a jammed roller really draws stall current.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

DEFAULT_PARAMS_PATH = Path(__file__).with_name("default_params.toml")
#: Named plants: units at the corners of the variation envelope and inside it (``--sim-params``)
PLANTS_DIR = Path(__file__).with_name("plants")

CHAMBER_POSITIONS = ("foot", "calf", "thigh")


class _Strict(BaseModel):
    """Unknown keys are typos in a params file: refuse them rather than ignore them."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class PadParams(_Strict):
    """One heat pad: a resistive element under a fabric/gel surface lying on the leg.

    Two thermal masses (element, surface) joined by a conductance; the surface loses heat to
    the limb and to the room. The defaults are a 20 W calf pad: at full power it settles near
    58 °C (well past the 45 °C trip) and warms from 22 °C to 40 °C in about 3 minutes.
    """

    # J/K. Carbon-fibre/wire element with its insulating film, ~25 g at ~1.2 J/(g·K).
    element_heat_capacity_j_per_k: float = Field(30.0, gt=0)
    # J/K. Fabric cover and gel layer of a calf wrap, ~100 g at ~1.5 J/(g·K).
    surface_heat_capacity_j_per_k: float = Field(150.0, gt=0)
    # W/K. Through the thin insulating film over ~0.03 m²: the element runs ~10 K hotter
    # than the surface at 20 W.
    element_to_surface_w_per_k: float = Field(2.0, gt=0)
    # W/K. Contact with skin over ~0.03 m² (~17 W/(m²·K) through skin and perfused tissue).
    surface_to_limb_w_per_k: float = Field(0.5, ge=0)
    # °C. Skin/limb temperature under a sleeve (leg skin 31–34 °C).
    limb_temp_c: float = 33.0
    # W/K. Outer face to room air by natural convection + radiation (~7 W/(m²·K) × 0.03 m²).
    surface_to_room_w_per_k: float = Field(0.2, ge=0)
    # W. Element power at 100 % duty: 12 V across a ~7 Ω calf-pad element.
    heater_power_w: float = Field(20.0, ge=0)
    # s. NTC bead glued to the pad under a dab of epoxy: first-order lag ~3–5 s.
    thermistor_lag_s: float = Field(4.0, gt=0)
    # s. MCP9808 on its own small PCB taped to the pad: the board's mass makes it slower.
    digital_sensor_lag_s: float = Field(8.0, gt=0)
    # °C. Air around the sleeve (living room).
    room_temp_c: float = 22.0

    def slower(self, factor: float) -> PadParams:
        """The same pad with ``factor`` times the heat capacity: a thicker pad, for checking
        that controller gains stay stable on a slower plant."""
        return self.model_copy(update={
            "element_heat_capacity_j_per_k": factor * self.element_heat_capacity_j_per_k,
            "surface_heat_capacity_j_per_k": factor * self.surface_heat_capacity_j_per_k,
        })

    @model_validator(mode="after")
    def _loses_heat_somewhere(self) -> PadParams:
        # With no path to limb or room the steady state is infinite: not a pad, a typo.
        if self.surface_to_limb_w_per_k + self.surface_to_room_w_per_k <= 0:
            raise ValueError("surface_to_limb_w_per_k + surface_to_room_w_per_k must be > 0")
        return self


class ChamberParams(_Strict):
    """One air chamber of a sleeve: a compliant bladder with a fill valve, a vent valve, a leak.

    Pressure (gauge) = excess air / effective compliance, effective compliance =
    volume_l × compliance. Flows are linear in pressure difference (laminar-ish orifice
    approximation; keeps the updates exact exponentials). Plain `ChamberParams()` is a calf
    chamber; use `for_position` for the foot/calf/thigh defaults.
    """

    # L. Inflated bladder volume; foot 0.6 / calf 1.2 / thigh 1.8 (Normatec-class sleeves).
    volume_l: float = Field(1.2, gt=0)
    # 1/mmHg, i.e. litres of air per mmHg per litre of chamber. Sleeve stiffness: filling a
    # chamber to 120 mmHg takes about its own volume of air (bladder unfolding + limb tissue
    # giving way + air compression). Effective compliance = volume_l × compliance, L/mmHg.
    compliance: float = Field(1.0 / 120.0, gt=0)
    # L/(s·mmHg). 2-way NC solenoid valve, ~1.6 mm orifice: ~10 mmHg drop at 5 L/min.
    fill_valve_conductance: float = Field(0.008, gt=0)
    # L/(s·mmHg). NO quick-exhaust valve (same part on every chamber): a foot vents
    # 100 → 10 mmHg in ~0.6 s, a calf in ~1.1 s, a thigh in ~1.7 s.
    vent_valve_conductance: float = Field(0.02, gt=0)
    # L/(s·mmHg). Seams and hose joints: ~1 mmHg/s lost at 100 mmHg (scales with size).
    leak_conductance: float = Field(1.0e-4, ge=0)

    @property
    def effective_compliance_l_per_mmhg(self) -> float:
        """Litres of air that raise this chamber's pressure by 1 mmHg."""
        return self.volume_l * self.compliance

    @classmethod
    def for_position(cls, position: str) -> ChamberParams:
        """Default chamber for "foot", "calf" or "thigh" (size and leak differ, valves don't)."""
        try:
            return cls(**_CHAMBER_DEFAULTS[position])
        except KeyError:
            raise ValueError(
                f"unknown chamber position {position!r}; expected one of {CHAMBER_POSITIONS}"
            ) from None


# Per-position differences from the plain defaults. Leak keeps ~1 mmHg/s at 100 mmHg.
_CHAMBER_DEFAULTS: dict[str, dict[str, float]] = {
    "foot": {"volume_l": 0.6, "leak_conductance": 0.5e-4},
    "calf": {"volume_l": 1.2, "leak_conductance": 1.0e-4},
    "thigh": {"volume_l": 1.8, "leak_conductance": 1.5e-4},
}


def _default_chambers() -> dict[str, ChamberParams]:
    return {position: ChamberParams.for_position(position) for position in CHAMBER_POSITIONS}


class PumpParams(_Strict):
    """The shared diaphragm pump: flow falls linearly with back pressure (DC-motor pump curve).

    At duty d the pump behaves like a source of d × max_pressure_mmhg behind the conductance
    free_flow / max_pressure: flow = free_flow × (d − p / max_pressure), never negative (its
    reed valves stop backflow).
    """

    # L/min. 12 V mini diaphragm pump for massage/BP cuffs (e.g. Kamoer/Skoocom class): 4–6.
    free_flow_l_per_min: float = Field(5.0, gt=0)
    # mmHg. Stall (dead-head) pressure of the same class: ~40 kPa ≈ 300 mmHg.
    max_pressure_mmhg: float = Field(300.0, gt=0)


class MotorParams(_Strict):
    """One roller gear motor on an H-bridge, normalised to its 12 V free speed and stall current."""

    # rpm at the output shaft, 12 V, no load: 37 mm gear motor, ~1:200 class, as in shiatsu
    # foot/calf massagers.
    free_speed_rpm: float = Field(30.0, gt=0)
    # s. Mechanical time constant of motor + gearbox + roller (first-order, ~0.15 s).
    speed_time_constant_s: float = Field(0.15, gt=0)
    # A. No-load current at 12 V for that motor class.
    no_load_current_a: float = Field(0.15, ge=0)
    # A. Stall current at 12 V (datasheet "stall current"), what a jam draws.
    stall_current_a: float = Field(1.8, gt=0)
    # Fraction of stall torque the leg's weight and tissue drag demand at full command:
    # the roller settles at command × (1 − load) of free speed.
    load_torque_fraction: float = Field(0.3, ge=0, lt=1)

    @model_validator(mode="after")
    def _stall_above_no_load(self) -> MotorParams:
        if self.stall_current_a <= self.no_load_current_a:
            raise ValueError("stall_current_a must exceed no_load_current_a")
        return self


class ThermistorParams(_Strict):
    """NTC thermistor to GND with a series resistor to the supply, read by the ADS1115."""

    # Ω. Series (pull-up) resistor, 1 % metal film, equal to R25 for best mid-range resolution.
    series_ohm: float = Field(10000.0, gt=0)
    # Ω. NTC resistance at 25 °C (the common 10 k part).
    r25_ohm: float = Field(10000.0, gt=0)
    # K. Beta (25/50 °C) of that part, e.g. NTCLE100E3103 / MF52 class: 3950.
    beta: float = Field(3950.0, gt=0)
    # V. Divider supply: the Pi's 3.3 V rail.
    supply_v: float = Field(3.3, gt=0)


class PressureSensorParams(_Strict):
    """Analog gauge pressure sensor with a ratiometric 10–90 % output (Honeywell ABP class)."""

    # mmHg. Full-scale gauge pressure (≈ 40 kPa / 5.8 psi part): room above the 150 mmHg trip.
    range_mmhg: float = Field(300.0, gt=0)
    # V. Sensor supply; output is ratiometric to it.
    supply_v: float = Field(3.3, gt=0)
    # Fraction of supply at 0 mmHg and at full scale (the 10–90 % transfer function).
    low_fraction: float = Field(0.1, ge=0, lt=1)
    high_fraction: float = Field(0.9, gt=0, le=1)
    # s. First-order lag between the chamber and the sensor: the hose from the sleeve to the
    # board and the sensor's own port (a long thin hose: up to ~0.3 s). 0 = none.
    lag_s: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _span_positive(self) -> PressureSensorParams:
        if self.high_fraction <= self.low_fraction:
            raise ValueError("high_fraction must exceed low_fraction")
        return self


class SimParams(_Strict):
    """Everything the simulated plant needs, one validated object."""

    pads: PadParams = Field(default_factory=PadParams)
    # Keyed by position "foot"/"calf"/"thigh". A params file may give only some fields of a
    # position; the rest come from that position's defaults (not the generic calf ones).
    chambers: dict[str, ChamberParams] = Field(default_factory=_default_chambers)
    pump: PumpParams = Field(default_factory=PumpParams)
    motor: MotorParams = Field(default_factory=MotorParams)
    # s. The external retriggerable timer: relay drops this long after the last heartbeat
    # toggle (DESIGN: "within ~200 ms").
    heartbeat_timeout_s: float = Field(0.2, gt=0)
    thermistor: ThermistorParams = Field(default_factory=ThermistorParams)
    pressure_sensor: PressureSensorParams = Field(default_factory=PressureSensorParams)
    # °C. Room the machine stands in: where pads and chips start.
    ambient_c: float = 22.0

    @model_validator(mode="before")
    @classmethod
    def _fill_chambers_from_position_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "chambers" not in data:
            return data
        given = data["chambers"]
        if not isinstance(given, dict):
            return data  # let field validation report the type error
        merged: dict[str, Any] = dict(given)  # unknown positions stay: _known_positions names them
        for position in CHAMBER_POSITIONS:
            base = dict(_CHAMBER_DEFAULTS[position])
            override = given.get(position, {})
            if isinstance(override, ChamberParams):
                merged[position] = override
            elif isinstance(override, dict):
                merged[position] = {**base, **override}
            else:
                merged[position] = override  # wrong type: field validation names it
        return {**data, "chambers": merged}

    @field_validator("chambers")
    @classmethod
    def _known_positions(cls, chambers: dict[str, ChamberParams]) -> dict[str, ChamberParams]:
        unknown = sorted(set(chambers) - set(CHAMBER_POSITIONS))
        if unknown:
            raise ValueError(f"unknown position(s) {unknown}; expected {list(CHAMBER_POSITIONS)}")
        return chambers


def load_sim_params(path: str | Path | None = None) -> SimParams:
    """Load and validate a params TOML (None: the shipped defaults).

    Every failure is a ValueError naming the file and, for bad values, the field path, so a
    wrong bench config is fixed in one look.
    """
    file = DEFAULT_PARAMS_PATH if path is None else Path(path)
    try:
        with file.open("rb") as fh:
            raw = tomllib.load(fh)
    except OSError as exc:
        raise ValueError(f"{file}: cannot read sim params: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{file}: not valid TOML: {exc}") from exc
    try:
        return SimParams.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err['loc']) or '<top>'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ValueError(f"{file}: invalid sim params: {problems}") from exc


def shipped_plants() -> dict[str, Path]:
    """The named plant files, by name (file stem), in name order."""
    return {path.stem: path for path in sorted(PLANTS_DIR.glob("*.toml"))}


@dataclass(frozen=True, slots=True)
class Variation:
    """How far a plant is from the default unit, in the terms of the variation envelope:
    multiples of the default (``ambient_c`` and ``pressure_lag_s`` as they are)."""

    pad_mass: float
    heater_power: float
    temp_sensor_lag: float
    ambient_c: float
    chamber_volume: float
    pump_flow: float
    leak: float
    pressure_lag_s: float


#: DESIGN.md, "Units differ": every unit inside these ranges, each parameter on its own or with
#: the others, must work. (lower, upper), inclusive.
ENVELOPE: dict[str, tuple[float, float]] = {
    "pad_mass": (0.5, 3.0),
    "heater_power": (0.7, 1.3),
    "temp_sensor_lag": (0.0, 4.0),
    "ambient_c": (15.0, 30.0),
    "chamber_volume": (0.7, 1.5),
    "pump_flow": (0.6, 1.1),
    "leak": (0.0, 3.0),
    "pressure_lag_s": (0.0, 0.3),
}


def variation_of(params: SimParams) -> Variation:
    """The plant's variation from the default unit. Where a plant scales the several values of
    one parameter unevenly (pads' two heat capacities, the chambers' volumes), the largest
    departure from 1x is reported."""
    base = SimParams()

    def ratio(pairs: list[tuple[float, float]]) -> float:
        ratios = [value / default for value, default in pairs]
        return max(ratios, key=lambda r: abs(r - 1.0) if r >= 1.0 else abs(1.0 / r - 1.0) if r > 0 else math.inf)

    pads, bp = params.pads, base.pads
    return Variation(
        pad_mass=ratio([(pads.element_heat_capacity_j_per_k, bp.element_heat_capacity_j_per_k),
                        (pads.surface_heat_capacity_j_per_k, bp.surface_heat_capacity_j_per_k)]),
        heater_power=pads.heater_power_w / bp.heater_power_w,
        temp_sensor_lag=ratio([(pads.thermistor_lag_s, bp.thermistor_lag_s),
                               (pads.digital_sensor_lag_s, bp.digital_sensor_lag_s)]),
        ambient_c=params.ambient_c,
        chamber_volume=ratio([(params.chambers[p].volume_l, base.chambers[p].volume_l) for p in CHAMBER_POSITIONS]),
        pump_flow=params.pump.free_flow_l_per_min / base.pump.free_flow_l_per_min,
        leak=ratio([(params.chambers[p].leak_conductance, base.chambers[p].leak_conductance)
                    for p in CHAMBER_POSITIONS]),
        pressure_lag_s=params.pressure_sensor.lag_s,
    )


def outside_envelope(params: SimParams) -> list[str]:
    """What of this plant lies outside the variation envelope (empty: a unit the machine must
    work on)."""
    found = asdict(variation_of(params))
    problems = []
    for name, (low, high) in ENVELOPE.items():
        value = found[name]
        if not low - 1e-9 <= value <= high + 1e-9:
            problems.append(f"{name} {value:g} outside {low:g}–{high:g}")
    return problems

"""Safety limits and their compiled-in bounds.

The table in DESIGN.md is the ceiling: a config file may make any limit *stricter*, never
looser. Each field says which direction is stricter, so the check is one loop instead of a
validator per field. A limit that tries to loosen its bound is refused with its name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, model_validator

# field -> (compiled bound, "max" if a config value must be <= bound, "min" if >= bound)
# "max": larger is less safe (a trip temperature, a time allowed); "min": smaller is less safe.
BOUNDS: dict[str, tuple[float, str]] = {
    # heat
    "max_heat_target_c": (42.0, "max"),  # IEC 60601-1 applied parts; low-temperature burns from 44 °C
    "overtemp_trip_c": (45.0, "max"),  # hard trip: heaters off, relay off
    "sensor_min_c": (0.0, "min"),  # below this a thermistor is open or the chip lies
    "sensor_max_c": (85.0, "max"),  # above this it is shorted
    "sensor_disagree_c": (3.0, "max"),  # a pad's two sensors
    # Outer bounds of the heating check; each pad's own window and gain come from its
    # commissioning (PadCommissioning, below), held inside these. Klipper verify_heater lets
    # a bed take 60 s per 2 °C and sets check_gain_time per heater; a 3x-mass pad at 70 %
    # power gains only ~0.6 °C in 60 s, so the outer window is 180 s and the gain 1 °C.
    "heating_check_window_s": (180.0, "max"),
    "heating_check_gain_c": (1.0, "min"),
    "heating_check_margin_c": (5.0, "min"),  # check only while below target - margin
    "heating_check_duty": (0.8, "max"),  # "high duty": the check runs at or above this
    "heating_off_window_s": (30.0, "max"),  # stuck MOSFET: rise while off
    "heating_off_rise_c": (2.0, "max"),
    # after a heater that was on goes off, its sensors are still catching up with the surface
    # (lag up to 16 s / 32 s inside the variation envelope) and the element gives up its heat:
    # the rise check counts samples from this long after the switch-off
    "heating_off_settle_s": (30.0, "max"),
    "stale_reading_s": (1.0, "max"),
    "pause_heat_keep_s": (300.0, "max"),  # pause keeps heat this long, then heaters off
    # pressure
    "max_pressure_mmhg": (110.0, "max"),  # Normatec-class boots reach 110 mmHg
    "lymphatic_max_pressure_mmhg": (45.0, "max"),  # Kendall SCD legs 45, lymphedema pumps ~40
    "gradient_step_min_mmhg": (5.0, "min"),  # Kamm 1986: 5-10 mmHg steps
    "gradient_step_max_mmhg": (10.0, "max"),
    "overpressure_trip_mmhg": (150.0, "max"),
    "max_hold_s": (60.0, "max"),  # no tourniquet
    "vent_below_mmhg": (10.0, "max"),
    "vent_window_s": (5.0, "max"),
    "fill_timeout_s": (20.0, "max"),  # half the target within this
    "pressure_frozen_window_s": (3.0, "max"),  # a sensor that stops changing while valves move
    "pressure_min_plausible_mmhg": (-20.0, "min"),
    # rollers
    "roller_current_limit_a": (1.5, "max"),
    "roller_overcurrent_s": (0.2, "max"),
    "roller_stall_ratio": (0.8, "max"),  # of stall current at the written duty
    # time and software
    "max_session_s": (1800.0, "max"),  # 30 min
    "tick_late_periods": (3.0, "max"),
}


class SafetyLimits(BaseModel):
    """Every limit the interlocks and the program loader use. Defaults are the bounds."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    max_heat_target_c: float = 42.0
    overtemp_trip_c: float = 45.0
    sensor_min_c: float = 0.0
    sensor_max_c: float = 85.0
    sensor_disagree_c: float = 3.0
    heating_check_window_s: float = 180.0
    heating_check_gain_c: float = 1.0
    heating_check_margin_c: float = 5.0
    heating_check_duty: float = 0.8
    heating_off_window_s: float = 30.0
    heating_off_rise_c: float = 2.0
    heating_off_settle_s: float = 30.0
    stale_reading_s: float = 1.0
    pause_heat_keep_s: float = 300.0
    max_pressure_mmhg: float = 110.0
    lymphatic_max_pressure_mmhg: float = 45.0
    gradient_step_min_mmhg: float = 5.0
    gradient_step_max_mmhg: float = 10.0
    overpressure_trip_mmhg: float = 150.0
    max_hold_s: float = 60.0
    vent_below_mmhg: float = 10.0
    vent_window_s: float = 5.0
    fill_timeout_s: float = 20.0
    pressure_frozen_window_s: float = 3.0
    pressure_min_plausible_mmhg: float = -20.0
    roller_current_limit_a: float = 1.5
    roller_overcurrent_s: float = 0.2
    roller_stall_ratio: float = 0.8
    max_session_s: float = 1800.0
    tick_late_periods: float = 3.0

    @model_validator(mode="after")
    def _never_looser_than_compiled(self) -> "SafetyLimits":
        problems = []
        for name, (bound, direction) in BOUNDS.items():
            value = getattr(self, name)
            if not math.isfinite(value):  # NaN compares False with everything: it would switch a trip off
                problems.append(f"{name} = {value} is not a finite number")
                continue
            if direction == "max" and value <= 0:
                problems.append(f"{name} = {value} must be above 0")
            if direction == "max" and value > bound:
                problems.append(f"{name} = {value} is above the compiled maximum {bound}")
            if direction == "min" and value < bound:
                problems.append(f"{name} = {value} is below the compiled minimum {bound}")
        if self.max_heat_target_c >= self.overtemp_trip_c:
            problems.append("max_heat_target_c must stay below overtemp_trip_c")
        if self.max_pressure_mmhg >= self.overpressure_trip_mmhg:
            problems.append("max_pressure_mmhg must stay below overpressure_trip_mmhg")
        if self.sensor_min_c >= self.sensor_max_c:
            problems.append("sensor_min_c must stay below sensor_max_c")
        if self.pressure_min_plausible_mmhg >= self.vent_below_mmhg:
            problems.append("pressure_min_plausible_mmhg must stay below vent_below_mmhg")
        if self.gradient_step_min_mmhg > self.gradient_step_max_mmhg:
            problems.append("gradient_step_min_mmhg is above gradient_step_max_mmhg")
        if problems:
            raise ValueError("safety limit may only be made stricter: " + "; ".join(problems))
        return self


#: A commissioned pad must gain at least this fraction of its commissioned rise in its
#: commissioned window at high duty: room for the check's 80 % duty threshold, a colder room
#: and a sagging supply, while a sensor off the pad (no rise) or an element at half its power
#: still fails.
COMMISSIONED_GAIN_FRACTION = 0.5


@dataclass(frozen=True, slots=True)
class PadCommissioning:
    """What commissioning measured on one pad: it gained ``rise_c`` within ``window_s`` at full
    power. The heating check's window and required gain come from it (``heating_check``)."""

    rise_c: float
    window_s: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rise_c) and self.rise_c > 0):
            raise ValueError(f"rise_c = {self.rise_c} must be a finite number above 0")
        if not (math.isfinite(self.window_s) and self.window_s > 0):
            raise ValueError(f"window_s = {self.window_s} must be a finite number above 0")


#: Without commissioning data: 1 °C within 100 s. The PID runs a pad at full power while the
#: check is armed (5 °C or more below target), and at full power every pad of the variation
#: envelope gains at least 1.49 °C in any 100 s up to 37 °C (the slowest: 3x mass, 70 % power,
#: from a 15 °C room; sensor lag up to 4x). A sensor off its pad (flat reading) fails the first
#: window; an open element fails once the leg's own warming of the pad slows (a default pad
#: from a 22 °C room: ~5 min). Commissioning gives each pad its own, tighter, check.
UNCOMMISSIONED_WINDOW_S = 100.0
UNCOMMISSIONED_GAIN_C = 1.0


@dataclass(frozen=True, slots=True)
class HeatingCheck:
    """The heating check of one pad: at least ``gain_c`` within every ``window_s`` at high duty."""

    gain_c: float
    window_s: float
    commissioned_rise_c: float | None  # None: the uncommissioned defaults apply


def heating_check(limits: SafetyLimits, commissioning: PadCommissioning | None) -> HeatingCheck:
    """The pad's check, held inside the limits (which a config may only make stricter than the
    compiled outer bounds): never a longer window, never a smaller gain."""
    if commissioning is None:
        gain_c, window_s, rise = UNCOMMISSIONED_GAIN_C, UNCOMMISSIONED_WINDOW_S, None
    else:
        gain_c = COMMISSIONED_GAIN_FRACTION * commissioning.rise_c
        window_s, rise = commissioning.window_s, commissioning.rise_c
    return HeatingCheck(gain_c=max(gain_c, limits.heating_check_gain_c),
                        window_s=min(window_s, limits.heating_check_window_s),
                        commissioned_rise_c=rise)

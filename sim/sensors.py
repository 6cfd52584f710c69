"""Forward sensor models: physical quantity → volts at the ADC pin.

Written from the circuits, not from the drivers, so the drivers' inverse conversions are
checked against an independent source (a shared mistake would otherwise cancel out).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Callable

from sim.params import PressureSensorParams, ThermistorParams

_KELVIN_AT_0_C = 273.15
_T25_K = 25.0 + _KELVIN_AT_0_C


def thermistor_ohm(temp_c: float, params: ThermistorParams) -> float:
    """NTC resistance, Ω, by the Beta model: R = R25 · exp(B · (1/T − 1/T25))."""
    temp_k = temp_c + _KELVIN_AT_0_C
    return params.r25_ohm * math.exp(params.beta * (1.0 / temp_k - 1.0 / _T25_K))


def thermistor_volts(temp_c: float, params: ThermistorParams) -> float:
    """Divider output, V: thermistor to GND, series resistor to supply.

    V = Vs · Rt / (Rt + Rs), so the voltage falls as the pad warms (NTC).
    """
    r_t = thermistor_ohm(temp_c, params)
    return params.supply_v * r_t / (r_t + params.series_ohm)


def pressure_volts(pressure_mmhg: float, params: PressureSensorParams) -> float:
    """Ratiometric output, V: low_fraction·Vs at 0 mmHg to high_fraction·Vs at full scale.

    Clipped to the rails [0, Vs], as a real output stage saturates.
    """
    return pressure_sensor(params)(pressure_mmhg)


def pressure_sensor(params: PressureSensorParams) -> Callable[[float], float]:
    """pressure_volts with the params bound once: the form the simulator calls at every read
    (the same arithmetic in the same order, so the same volts to the last bit)."""
    low = params.low_fraction
    span = params.high_fraction - params.low_fraction
    range_mmhg = params.range_mmhg
    supply_v = params.supply_v

    def volts_at(pressure_mmhg: float) -> float:
        fraction = low + span * pressure_mmhg / range_mmhg
        volts = supply_v * fraction
        return 0.0 if volts <= 0.0 else supply_v if volts >= supply_v else volts
    return volts_at


class PressureLag:
    """What each pressure sensor sees: the chamber's pressure through a first-order lag (the
    hose from the sleeve to the board). ``follow`` after every physics step; ``seen_mmhg`` is
    the live chamber dict itself when there is no lag (the same bits as without this model).
    """

    def __init__(self, lag_s: float, live_mmhg: Mapping[str, float], chambers: Iterable[str]) -> None:
        self.lag_s = lag_s
        self._live = live_mmhg
        self.seen_mmhg: Mapping[str, float] = live_mmhg if lag_s <= 0.0 else {c: live_mmhg[c] for c in chambers}
        self._factor_dt = (-1.0, 0.0)  # (dt, 1 - exp(-dt / lag)) of the last step length

    def follow(self, dt_s: float) -> None:
        if self.lag_s <= 0.0 or dt_s <= 0.0:
            return
        dt, k = self._factor_dt
        if dt != dt_s:
            k = 1.0 - math.exp(-dt_s / self.lag_s)
            self._factor_dt = (dt_s, k)
        seen, live = self.seen_mmhg, self._live
        for c, v in seen.items():
            seen[c] = v + (live[c] - v) * k

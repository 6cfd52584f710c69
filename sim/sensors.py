"""Forward sensor models: physical quantity → volts at the ADC pin.

Written from the circuits, not from the drivers, so the drivers' inverse conversions are
checked against an independent source (a shared mistake would otherwise cancel out).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

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
    span = params.high_fraction - params.low_fraction
    fraction = params.low_fraction + span * pressure_mmhg / params.range_mmhg
    volts = params.supply_v * fraction
    return 0.0 if volts <= 0.0 else params.supply_v if volts >= params.supply_v else volts


class PressureLag:
    """What each pressure sensor sees: the chamber's pressure through a first-order lag (the
    hose from the sleeve to the board). ``follow`` after every physics step; with no lag
    ``seen_mmhg`` is the live chamber dict itself (the same bits as without this model).
    """

    def __init__(self, lag_s: float, live_mmhg: Mapping[str, float], chambers: Iterable[str]) -> None:
        self.lag_s = lag_s
        self._live = live_mmhg
        self.seen_mmhg: Mapping[str, float] = live_mmhg if lag_s <= 0.0 else {c: live_mmhg[c] for c in chambers}

    def follow(self, dt_s: float) -> None:
        if self.lag_s <= 0.0 or dt_s <= 0.0:
            return
        k = 1.0 - math.exp(-dt_s / self.lag_s)
        for c, v in self.seen_mmhg.items():
            self.seen_mmhg[c] = v + (self._live[c] - v) * k

"""NTC thermistor in a divider: volts at the ADC -> °C.

Wiring: series resistor from the supply to the ADC input, thermistor from the ADC input to GND,
so V = supply_v × Rt / (Rt + series_ohm). Hot pad -> low Rt -> low volts.
At or past the rails the reading is not a temperature but a wiring fault, reported as an
infinity the safety layer's plausibility check rejects (never an exception in the scan cycle):
V >= supply: thermistor open -> -inf (infinitely cold); V <= 0: shorted -> +inf.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

KELVIN_OFFSET = 273.15
T25_K = 25.0 + KELVIN_OFFSET


class _DividerThermistor:
    """The divider and rail handling shared by both models; subclasses give 1/T(R)."""

    series_ohm: float
    supply_v: float
    offset_c: float

    def __post_init__(self) -> None:
        if not self.series_ohm > 0 or not self.supply_v > 0:
            raise ValueError(
                f"thermistor divider needs series_ohm > 0 and supply_v > 0, "
                f"got {self.series_ohm!r}, {self.supply_v!r}"
            )

    def resistance_from_volts(self, v: float) -> float:
        if v >= self.supply_v:
            return math.inf
        if v <= 0.0:
            return 0.0
        return self.series_ohm * v / (self.supply_v - v)

    def volts_to_c(self, v: float) -> float:
        if math.isnan(v):
            return math.nan
        if v >= self.supply_v:
            return -math.inf
        if v <= 0.0:
            return math.inf
        inv_t = self._inverse_kelvin(self.resistance_from_volts(v))
        if not inv_t > 0.0:  # model extrapolated past absolute zero: a dead short
            return math.inf
        return 1.0 / inv_t - KELVIN_OFFSET + self.offset_c

    def _inverse_kelvin(self, r_ohm: float) -> float:
        raise NotImplementedError


@dataclass(frozen=True)
class BetaThermistor(_DividerThermistor):
    """Beta model, 1/T = 1/T25 + ln(R/R25)/B: what thermistor datasheets give (B25/85)."""

    r25_ohm: float = 10_000.0
    beta: float = 3950.0
    series_ohm: float = 10_000.0
    supply_v: float = 3.3
    offset_c: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.r25_ohm > 0 or not self.beta > 0:
            raise ValueError(
                f"BetaThermistor needs r25_ohm > 0 and beta > 0, "
                f"got {self.r25_ohm!r}, {self.beta!r}"
            )

    def _inverse_kelvin(self, r_ohm: float) -> float:
        return 1.0 / T25_K + math.log(r_ohm / self.r25_ohm) / self.beta


@dataclass(frozen=True)
class SteinhartHartThermistor(_DividerThermistor):
    """Steinhart-Hart, 1/T = a + b·ln R + c·(ln R)³: for coefficients fitted to a calibration."""

    a: float
    b: float
    c: float
    series_ohm: float = 10_000.0
    supply_v: float = 3.3
    offset_c: float = 0.0

    def _inverse_kelvin(self, r_ohm: float) -> float:
        ln_r = math.log(r_ohm)
        return self.a + self.b * ln_r + self.c * ln_r**3

"""Ratiometric analog pressure sensor (Honeywell ABP-style, 10 %–90 % of supply) -> mmHg."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

# Transfer function: output = supply × (0.80 × P / range + 0.10). The 10 % floor means a
# healthy sensor never reads 0 V, so a dead or disconnected one shows as a large negative
# pressure instead of a plausible "empty chamber".
OUTPUT_MIN_FRACTION = 0.10
OUTPUT_SPAN_FRACTION = 0.80


@dataclass(frozen=True)
class AnalogPressureSensor:
    range_mmhg: float = 300.0
    supply_v: float = 3.3
    offset_mmhg: float = 0.0  # zero-point calibration, subtracted from the reading

    def __post_init__(self) -> None:
        if not self.range_mmhg > 0 or not self.supply_v > 0:
            raise ValueError(
                f"AnalogPressureSensor needs range_mmhg > 0 and supply_v > 0, "
                f"got {self.range_mmhg!r}, {self.supply_v!r}"
            )

    def volts_to_mmhg(self, v: float) -> float:
        """Not clamped: an out-of-range value is the safety layer's evidence of a broken sensor."""
        fraction = (v / self.supply_v - OUTPUT_MIN_FRACTION) / OUTPUT_SPAN_FRACTION
        return fraction * self.range_mmhg - self.offset_mmhg

    def with_offset(self, offset_mmhg: float) -> "AnalogPressureSensor":
        """The same sensor with this zero offset (replacing, not adding to, the current one)."""
        return dataclasses.replace(self, offset_mmhg=offset_mmhg)

"""What the actuators are asked to do, and the fail-safe value of each."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class Outputs:
    heater_duty: dict[str, float]  # 0..1 per pad
    fill_open: dict[str, bool]  # per chamber
    vent_open: dict[str, bool]  # per chamber (the vent valve is normally open)
    pump_duty: float  # 0..1
    roller_speed: dict[str, float]  # -1..1 per roller (sign = direction)
    relay_closed: bool  # master relay: heaters, pump, motors and valves have power

    @classmethod
    def safe(cls, pads, chambers, rollers) -> "Outputs":
        """No heat, every chamber venting, pump and rollers off, relay open: what no power gives."""
        return cls(
            heater_duty={p: 0.0 for p in pads},
            fill_open={c: False for c in chambers},
            vent_open={c: True for c in chambers},
            pump_duty=0.0,
            roller_speed={r: 0.0 for r in rollers},
            relay_closed=False,
        )

    def with_(self, **changes) -> "Outputs":
        return replace(self, **changes)

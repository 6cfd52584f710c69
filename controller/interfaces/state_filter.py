"""What of the state is worth publishing on MQTT: deadbands on the noisy measurements.

Why: an idle machine's sensors never sit still (a pad thermistor wanders by 0.01 °C, a
pressure sensor by ±0.4 mmHg). Published as is, every state message changed ten Home
Assistant sensors, and its recorder wrote about 16 rows a second, 1.4 million a day, of
noise. Each noisy value is held until it moves by its deadband from what was last published,
and published rounded to the deadband's resolution, so a reading that did not move does not
change the payload, and a heartbeat re-sends the same numbers.

Deadbands sit well inside what a person could notice or a check acts on (the machine's own
checks read the sensors directly, never this view): 0.1 °C on pad temperatures, 1 mmHg on
chamber pressures, 0.01 A on roller currents. The local socket and ``legctl`` keep the
state's full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from controller.model.state import State


@dataclass(frozen=True, slots=True)
class Deadband:
    step: float  # a change smaller than this from the published value is not published
    digits: int  # the published value is rounded to this many decimals


#: (state collection, field) -> its deadband
DEADBANDS: dict[tuple[str, str], Deadband] = {
    ("pads", "temp_c"): Deadband(0.1, 1),
    ("pads", "temp2_c"): Deadband(0.1, 1),
    ("chambers", "pressure_mmhg"): Deadband(1.0, 0),
    ("rollers", "current_a"): Deadband(0.01, 2),
}

#: fields that change every tick whatever happens: never a reason to publish
_TICK_FIELDS = ("seq", "t_s")


class StateFilter:
    """Turns each snapshot into the payload to publish, holding noisy values within their
    deadbands of what was last published. One per bridge (it remembers what went out)."""

    def __init__(self, deadbands: dict[tuple[str, str], Deadband] = DEADBANDS) -> None:
        self.deadbands = deadbands
        self._held: dict[tuple[str, str, str], float | None] = {}

    def payload(self, snapshot: State) -> dict[str, Any]:
        """The JSON-ready state with the noisy values held and rounded."""
        data = snapshot.json_ready()
        for (collection, key), band in self.deadbands.items():
            for zone, values in data.get(collection, {}).items():
                values[key] = self._hold((collection, zone, key), values.get(key), band)
        return data

    def _hold(self, where: tuple[str, str, str], value: float | None, band: Deadband) -> float | None:
        held = self._held.get(where)
        if where not in self._held or value is None or held is None:
            moved = True  # the first value, or a sensor lost or back: always shown at once
        else:
            moved = abs(value - held) >= band.step - 1e-9
        if moved:
            self._held[where] = held = value
        return None if held is None else round(held, band.digits)


def changed(payload: dict[str, Any], last: dict[str, Any] | None) -> bool:
    """Does ``payload`` say anything ``last`` did not (the tick counters aside)?"""
    if last is None:
        return True
    return any(payload.get(k) != last.get(k) for k in payload.keys() | last.keys() if k not in _TICK_FIELDS)

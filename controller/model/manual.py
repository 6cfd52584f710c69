"""Outputs driven by hand (``legctl manual OUTPUT VALUE|release``), parsed once, held typed.

An output's name arrives as text from the socket (``pump``, ``heater:ZONE``, ``fill:ZONE``,
``vent:ZONE``, ``roller:ZONE``; a dot is accepted for the colon) and is parsed here, once, into a
``ManualTarget``; everything past the edge works with that. ``ManualOverrides`` holds the values
and lays them over what the controllers want — before the safety gate, never around it: an
output driven by hand is gated like any other.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from controller.model.outputs import Outputs


class OutputKind(enum.Enum):
    PUMP = "pump"
    HEATER = "heater"
    FILL = "fill"
    VENT = "vent"
    ROLLER = "roller"


#: a valve driven by hand opens for a value above this (the socket carries 0/1 as numbers)
VALVE_OPEN_ABOVE = 0.5


@dataclass(frozen=True, slots=True)
class ManualTarget:
    """One output a technician may drive: a kind and its zone (none for the one shared pump)."""

    kind: OutputKind
    zone: str = ""

    def __str__(self) -> str:
        return self.kind.value if self.kind is OutputKind.PUMP else f"{self.kind.value}:{self.zone}"

    @property
    def low(self) -> float:
        """The lowest value: a roller runs both ways (sign = direction), the rest are 0..1."""
        return -1.0 if self.kind is OutputKind.ROLLER else 0.0

    def check(self, value: float) -> None:
        """Raise ``ValueError`` (a sentence for the technician) unless ``value`` is in range."""
        if not self.low <= value <= 1.0:
            raise ValueError(f"value {value} out of range {self.low:g}..1 for {self}")

    @classmethod
    def pump(cls) -> "ManualTarget":
        return cls(OutputKind.PUMP)

    @classmethod
    def heater(cls, pad: str) -> "ManualTarget":
        return cls(OutputKind.HEATER, pad)

    @classmethod
    def fill(cls, chamber: str) -> "ManualTarget":
        return cls(OutputKind.FILL, chamber)

    @classmethod
    def vent(cls, chamber: str) -> "ManualTarget":
        return cls(OutputKind.VENT, chamber)

    @classmethod
    def roller(cls, roller: str) -> "ManualTarget":
        return cls(OutputKind.ROLLER, roller)

    @classmethod
    def parse(cls, text: str, *, pads: Sequence[str], chambers: Sequence[str],
              rollers: Sequence[str]) -> "ManualTarget":
        """The one parser of an output name; ``ValueError`` names every output this machine has."""
        known = known_targets(pads=pads, chambers=chambers, rollers=rollers)
        kind, _, zone = text.replace(".", ":").partition(":")
        for target in known:
            if target.kind.value == kind and target.zone == zone:
                return target
        raise ValueError(f"unknown output {text!r} (known: {', '.join(str(t) for t in known)})")


def known_targets(*, pads: Iterable[str], chambers: Iterable[str], rollers: Iterable[str]) -> list[ManualTarget]:
    """Every output of this machine that may be driven by hand, in the order people read them."""
    chambers = list(chambers)
    return ([ManualTarget.pump()] + [ManualTarget.heater(z) for z in pads]
            + [ManualTarget.fill(z) for z in chambers] + [ManualTarget.vent(z) for z in chambers]
            + [ManualTarget.roller(z) for z in rollers])


class ManualOverrides:
    """The outputs held by hand now (idle only, cleared by a fault, a start or a stop)."""

    def __init__(self) -> None:
        self._values: dict[ManualTarget, float] = {}

    def set(self, target: ManualTarget, value: float) -> None:
        target.check(value)
        self._values[target] = float(value)

    def release(self, *targets: ManualTarget) -> None:
        for target in targets:
            self._values.pop(target, None)

    def clear(self) -> None:
        self._values.clear()

    def get(self, target: ManualTarget) -> float | None:
        return self._values.get(target)

    def __bool__(self) -> bool:
        return bool(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[ManualTarget]:
        return iter(self._values)

    def apply(self, wanted: Outputs) -> Outputs:
        """What the controllers want with the hand-held outputs laid over it (the gate comes after)."""
        if not self._values:
            return wanted
        heater = dict(wanted.heater_duty)
        fill = dict(wanted.fill_open)
        vent = dict(wanted.vent_open)
        rollers = dict(wanted.roller_speed)
        pump = wanted.pump_duty
        for target, value in self._values.items():
            kind = target.kind
            if kind is OutputKind.HEATER:
                heater[target.zone] = value
            elif kind is OutputKind.FILL:
                fill[target.zone] = value > VALVE_OPEN_ABOVE
            elif kind is OutputKind.VENT:
                vent[target.zone] = value > VALVE_OPEN_ABOVE
            elif kind is OutputKind.ROLLER:
                rollers[target.zone] = value
            else:
                pump = value
        return wanted.with_(heater_duty=heater, fill_open=fill, vent_open=vent, roller_speed=rollers, pump_duty=pump)

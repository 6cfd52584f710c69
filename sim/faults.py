"""Fault injection by name, on a zone where it applies, at a simulated time.

Each fault changes what the drivers see exactly as the real fault would; the effect itself is
applied where the hardware lives (sim/machine.py). This module only knows names, where they
apply, and when they start.
"""

from __future__ import annotations

from dataclasses import dataclass

#: fault name -> the zone family it applies to ("pad", "chamber", "roller", "chip" or None)
FAULTS: dict[str, str | None] = {
    "heater_stuck_on": "pad",  # MOSFET shorted: full power whenever the relay feeds the heater
    "heater_open": "pad",  # broken element: no heat at any duty
    "temp_sensor_open": "pad",  # thermistor lead cut: divider reads the supply rail
    "temp_sensor_short": "pad",  # thermistor shorted: divider reads 0 V
    "temp_sensor_drift": "pad",  # thermistor ageing / detaching: reads ever lower
    "chip_missing": "chip",  # NACK on every access (EREMOTEIO)
    "bus_hang": None,  # a chip stretches the clock forever: every access times out (ETIMEDOUT)
    "bus_hang_eio": None,  # Pi 4: each access fails with EIO after the 35 ms clock-stretch timeout
    "bus_hang_eagain": None,  # Pi 5: each access fails with EAGAIN
    "sda_stuck_low": None,  # a chip holds SDA low: reads return zeros, writes vanish, no error
    "expander_reset": None,  # the MCP23017 resets once (brown-out): every pin back to an input
    "fill_valve_stuck_open": "chamber",
    "vent_valve_stuck_closed": "chamber",
    "leak": "chamber",  # torn sleeve or loose hose
    "pump_dead": None,
    "pressure_sensor_frozen": "chamber",  # sensor output stuck at its last value
    "roller_stall": "roller",  # jammed roller: motor stalls, current rises to stall current
    "estop": None,  # the normally-closed e-stop circuit opens
}


class InjectionError(ValueError):
    """A fault spec that names no known fault or a zone it cannot apply to."""


@dataclass(frozen=True)
class Injection:
    name: str
    zone: str | None  # a pad/chamber/roller zone, or for chip_missing a zone or chip name
    at_s: float  # simulated seconds since the simulator started


def parse_injection(spec: str, zones: dict[str, list[str]], chips: list[str]) -> Injection:
    """Parse ``NAME[:ZONE]@SECONDS`` (or ``NAME[:ZONE]`` meaning now) and check it applies.

    ``zones`` maps "pad", "chamber", "roller" to zone names; ``chips`` names the I2C chips
    (board names like ``adc_temp`` or addresses like ``0x48``).
    """
    text = spec.strip()
    at_s = 0.0
    if "@" in text:
        text, _, when = text.rpartition("@")
        try:
            at_s = float(when)
        except ValueError:
            raise InjectionError(f"fault {spec!r}: time {when!r} is not a number of seconds") from None
        if at_s < 0:
            raise InjectionError(f"fault {spec!r}: time must not be negative")
    name, _, zone = text.partition(":")
    return make_injection(name, zone or None, at_s, zones, chips)


def make_injection(name: str, zone: str | None, at_s: float,
                   zones: dict[str, list[str]], chips: list[str]) -> Injection:
    if name not in FAULTS:
        raise InjectionError(f"unknown fault {name!r} (known: {', '.join(FAULTS)})")
    family = FAULTS[name]
    if family is None:
        if zone:
            raise InjectionError(f"fault {name!r} applies to the whole machine, not to zone {zone!r}")
        return Injection(name, None, at_s)
    if family == "chip":
        everything = [z for names in zones.values() for z in names] + chips
        zone = zone or chips[0]
        if zone not in everything:
            raise InjectionError(f"fault {name!r}: {zone!r} is not a zone or chip (known: {', '.join(everything)})")
        return Injection(name, zone, at_s)
    names = zones[family]
    zone = zone or names[0]
    if zone not in names:
        raise InjectionError(f"fault {name!r} applies to a {family}: {zone!r} is not one ({', '.join(names)})")
    return Injection(name, zone, at_s)


class FaultSchedule:
    """Injections waiting for their time, and those already active."""

    def __init__(self) -> None:
        self._pending: list[Injection] = []
        self.active: dict[tuple[str, str | None], Injection] = {}

    def add(self, injection: Injection) -> None:
        self._pending.append(injection)
        self._pending.sort(key=lambda i: i.at_s)

    def due(self, sim_t_s: float) -> list[Injection]:
        """Move injections whose time has come to ``active``; return them (to apply once)."""
        started = []
        while self._pending and self._pending[0].at_s <= sim_t_s:
            inj = self._pending.pop(0)
            self.active[(inj.name, inj.zone)] = inj
            started.append(inj)
        return started

    def is_active(self, name: str, zone: str | None = None) -> bool:
        return (name, zone) in self.active

    def clear(self, name: str, zone: str | None = None) -> None:
        self.active.pop((name, zone), None)

    @property
    def next_at_s(self) -> float | None:
        return self._pending[0].at_s if self._pending else None

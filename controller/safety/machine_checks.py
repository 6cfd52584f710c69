"""Machine interlocks: e-stop, session length, tick lateness and chip errors."""

from __future__ import annotations

from controller.model.config import MachineConfig
from controller.model.faults import Fault
from controller.model.readings import ErrorZone, Readings
from controller.safety.context import SafetyContext, ZoneNames, fmt_g


class MachineChecks:
    """The whole machine.

    - ``estop``: the emergency-stop circuit is open, on the tick it is seen;
    - ``session_too_long``: a session running past ``max_session_s`` (30 min). It trips one
      tick period after the limit, so a program of exactly the limit ends normally on the
      runner's tick (which comes after this check); this is the backstop if it does not;
    - ``tick_late``: a tick that started more than ``tick_late_periods`` (3) periods late.
    """

    def __init__(self, config: MachineConfig) -> None:
        self.limits = config.limits
        self.period_s = config.rates.period_s

    def check(self, readings: Readings, ctx: SafetyContext, now_s: float) -> list[Fault]:
        lim = self.limits
        faults = []
        if readings.estop_tripped:
            faults.append(Fault.make("estop", None, now_s, "emergency stop pressed (or its circuit is open)",
                                     {"estop_tripped": True}))
        if ctx.session_started_s is not None:
            ran = now_s - ctx.session_started_s
            if ran >= lim.max_session_s + self.period_s:
                faults.append(Fault.make(
                    "session_too_long", None, now_s,
                    f"session ran {ran / 60:.1f} min, past the {fmt_g(lim.max_session_s / 60)} min limit: ending it",
                    {"session_s": ran, "limit_s": lim.max_session_s}))
        late_limit = lim.tick_late_periods * self.period_s
        if ctx.tick_late_s > late_limit:
            faults.append(Fault.make(
                "tick_late", None, now_s,
                f"control loop ran {ctx.tick_late_s * 1000:.0f} ms late (limit {late_limit * 1000:.0f} ms, "
                f"{fmt_g(lim.tick_late_periods)} periods): blocked I/O?",
                {"late_s": ctx.tick_late_s, "limit_s": late_limit}))
        return faults


def _pad_read_this_tick(readings: Readings, pad: str) -> bool:
    """The board reads the pads in rotation: a pad was read this tick when its reading is of
    this tick (a readings object without the pad says so with ``thermal_fresh`` alone)."""
    r = readings.pads.get(pad)
    return readings.thermal_fresh and (r is None or r.t_s == readings.t_s)


class ChipErrors:
    """A chip that keeps failing (``chip_error``; its zone says the family: a pad's is heat).

    One failed transfer is a glitch and raises nothing (the value is NaN for a tick, the other
    checks see that); an error on every read of a zone for ``stale_reading_s`` (1 s) is a chip
    that is gone. The pads are read in rotation (one a tick), so a pad zone's run of errors ends
    only on a tick that read that pad cleanly. The message quotes the driver's error, which names
    the chip, its address and the bus. The fault's zone is the error zone as text
    ("pad:left_calf"), as reports and the fault log have always shown it.
    """

    def __init__(self, config: MachineConfig, names: ZoneNames) -> None:
        self.limits = config.limits
        self.names = names
        self._since: dict[ErrorZone, float] = {}  # zone -> first tick of its present run of errors
        self._text: dict[ErrorZone, str] = {}  # zone -> this run's latest error texts

    def check(self, readings: Readings, now_s: float) -> list[Fault]:
        texts: dict[ErrorZone, list[str]] = {}
        for error in readings.errors:
            texts.setdefault(error.zone, []).append(error.text)
        for zone in list(self._since):
            read_this_tick = zone.family != "pad" or _pad_read_this_tick(readings, zone.name)
            if zone not in texts and read_this_tick:
                del self._since[zone]
                del self._text[zone]
        for zone, zone_texts in texts.items():
            self._since.setdefault(zone, now_s)
            self._text[zone] = "; ".join(dict.fromkeys(zone_texts))  # each text once, in order
        faults = []
        for zone, since in self._since.items():
            held = now_s - since
            if held >= self.limits.stale_reading_s:
                faults.append(Fault.make(
                    "chip_error", str(zone), now_s,
                    f"{self.names.error_zone(zone)}: chip failing for {held:.1f} s — {self._text[zone]}",
                    {"error": self._text[zone], "failing_s": held}))
        return faults

"""The safety test rig: one SafetyMonitor fed one tick at a time, as the scan cycle feeds it.

The test owns the clock (tick ``n`` is at ``n * dt_s``; pick a ``dt_s`` exact in binary so
window arithmetic is exact too), the sensor values, the chip errors, what was last written (the
monitor learns valves, pump, heaters and rollers from it, exactly as in the scan cycle) and the
context (targets, session start, lateness). Every zone not under test stays sane.
"""

from __future__ import annotations

from controller.model.config import MachineConfig, load_config
from controller.model.faults import Fault
from controller.model.outputs import Outputs
from controller.model.readings import ErrorZone, PadReading, ReadingError, Readings
from controller.safety.heat_checks import HeaterVerification
from controller.safety.monitor import SafetyContext, SafetyMonitor

CFG = load_config()
LIM = CFG.limits
FAST_DT = 1 / 64  # a fast tick; a power of two
THERMAL_DT = 0.25  # a thermal tick (4 Hz)


def chip_error(family: str, name: str, text: str) -> ReadingError:
    return ReadingError(ErrorZone(family, name), text)  # type: ignore[arg-type]


def codes(faults) -> set[str]:
    return {f.code for f in faults}


class SafetyRig:
    def __init__(self, config: MachineConfig = CFG, dt_s: float = FAST_DT, commissioning=None) -> None:
        self.config = config
        self.dt_s = dt_s
        self.monitor = SafetyMonitor(config)
        if commissioning is not None:  # the pads' commissioning records, as the monitor will get them
            self.monitor.heaters = HeaterVerification(config, self.monitor.heaters.names, commissioning)
        self.n = 0
        # what the sensors say
        self.temps = {p: (30.0, 30.0) for p in config.pad_names}  # (thermistor, digital) °C
        self.read_t = {p: 0.0 for p in config.pad_names}
        self.frozen_pads: set[str] = set()  # pads whose reading stops updating
        self.pressure = {c: 0.0 for c in config.chamber_names}
        self.current = {r: 0.3 for r in config.roller_names}
        self.estop = False
        self.errors: list[ReadingError] = []
        # what was written last tick
        self.duty = {p: 0.0 for p in config.pad_names}
        self.fill = {c: False for c in config.chamber_names}
        self.vent = {c: True for c in config.chamber_names}
        self.pump = 0.0
        self.speed = {r: 0.0 for r in config.roller_names}
        self.relay = True
        # the context
        self.heat_targets: dict[str, float | None] = {p: None for p in config.pad_names}
        self.pressure_targets = {c: 0.0 for c in config.chamber_names}
        self.session_started: float | None = None
        self.late = 0.0
        self.last_readings: Readings | None = None

    @property
    def t(self) -> float:
        return self.n * self.dt_s

    def readings(self) -> Readings:
        t = self.t
        pads = {}
        for p in self.config.pad_names:
            if p not in self.frozen_pads:
                self.read_t[p] = t
            pads[p] = PadReading(*self.temps[p], self.read_t[p])
        return Readings(
            t_s=t, pads=pads, pressure_mmhg=dict(self.pressure),
            pressure_t_s={c: t for c in self.config.chamber_names},
            roller_current_a=dict(self.current), estop_tripped=self.estop, thermal_fresh=True,
            errors=tuple(self.errors))

    def outputs(self) -> Outputs:
        return Outputs(heater_duty=dict(self.duty), fill_open=dict(self.fill), vent_open=dict(self.vent),
                       pump_duty=self.pump, roller_speed=dict(self.speed), relay_closed=self.relay)

    def tick(self) -> list[Fault]:
        self.n += 1
        self.last_readings = self.readings()
        ctx = SafetyContext(session_started_s=self.session_started, heat_targets_c=dict(self.heat_targets),
                            pressure_targets_mmhg=dict(self.pressure_targets), tick_late_s=self.late)
        return self.monitor.check(self.last_readings, self.outputs(), self.t, ctx)

    def run(self, seconds: float, code: str, each=None) -> Fault | None:
        """Tick for ``seconds``; the first fault with ``code`` (or None). ``each(rig)`` runs before each tick."""
        end = self.n + round(seconds / self.dt_s)
        while self.n < end:
            if each is not None:
                each(self)
            for fault in self.tick():
                if fault.code == code:
                    return fault
        return None

    # chambers
    def close_chamber(self, ch: str) -> None:
        self.vent[ch] = False
        self.fill[ch] = False

    def start_fill(self, ch: str, target: float = 80.0) -> None:
        self.vent[ch] = False
        self.fill[ch] = True
        self.pump = 0.8
        self.pressure_targets[ch] = target

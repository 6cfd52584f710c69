"""The whole simulated board: physics behind register-level chips and gpiozero mock pins.

The real drivers run unchanged against it: they write mock pins and fake-I2C registers, the
physics reads those, and the chips answer from the physics. Time is pulled, not pushed: every
time an output pin or the valve expander is about to change, and every time a chip is read,
the physics is integrated up to ``now()`` with the inputs that held until then. ``now`` is the
event loop's clock, so under fast-forwarded loop time the simulation runs as fast as the code.

The wiring (which pin is which heater, which ADC channel reads which sensor) is read from the
machine config object passed in; sim/ does not import it (duck typing keeps the layers apart).
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
from typing import Callable

from sim.chips.ads1115 import FakeADS1115
from sim.chips.ina219 import FakeINA219
from sim.chips.mcp23017 import FakeMCP23017
from sim.chips.mcp9808 import FakeMCP9808
from sim.gpio import SimPin, SimPinFactory  # noqa: F401 (SimPin: re-exported)
from sim.faults import FaultSchedule, Injection, make_injection, parse_injection
from sim.i2c_bus import FakeSMBus
from sim.motor import RollerPhysics
from sim.params import SimParams, load_sim_params
from sim.pneumatics import Pneumatics
from sim.sensors import PressureLag, pressure_volts, thermistor_volts
from sim.thermal import PadThermal

MAX_STEP_S = 0.02  # physics sub-step: stable for every model at this size
DRIFT_C_PER_S = 0.05  # temp_sensor_drift: the thermistor reads this much lower each second
LEAK_CONDUCTANCE_FACTOR = 300.0  # leak: a torn sleeve or loose hose: the pump cannot keep up
BUS_HANG_S = 0.5  # bus_hang: how long each transfer waits before ETIMEDOUT (a Pi's is 1 s; 0.5 keeps runs short)
PRESSURE_NOISE_MMHG = 0.15  # sensor + ADC noise (1 sigma); a frozen sensor is bit-identical instead


class SimulatedMachine:
    """Physics + chips + pins for one machine config."""

    def __init__(self, config, now: Callable[[], float], params: SimParams | None = None,
                 start_c: float | None = None) -> None:
        self.config = config
        self.params = params or load_sim_params()
        self._now = now
        self.t0_s = now()
        self.t_s = self.t0_s
        b = config.board
        self.pin_factory = SimPinFactory(now)
        self.pin_factory.before_change = self.advance
        self.pin_factory.after_change = self._pin_changed
        self._noise = random.Random(1234)  # seeded: runs repeat exactly
        self.bus = FakeSMBus(b.i2c_bus)
        self.faults = FaultSchedule()
        self.pending_stall_s = 0.0  # bus_hang: time the kernel would spend before timing out
        # A hang on a worker thread blocks that thread for the hang's time on the loop's clock,
        # as the kernel blocks the Pi's I/O thread; on the loop's own thread it is handed to the
        # board as pending_stall_s instead (blocking there would stop the clock too).
        owner = getattr(now, "__self__", None)
        self.loop: asyncio.AbstractEventLoop | None = owner if isinstance(owner, asyncio.AbstractEventLoop) else None
        self._loop_thread = threading.get_ident()
        self._physics_lock = threading.RLock()  # the I/O thread and the loop both move pins

        room = self.params.ambient_c if start_c is None else start_c
        self.pads = {p.zone: PadThermal(self.params.pads, room) for p in config.pads}
        position_of = {c.zone: c.position for c in config.chambers}
        self.pneumatics = Pneumatics(self.params, list(position_of), position_of)
        self.pressure_lag = PressureLag(self.params.pressure_sensor.lag_s, self.pneumatics.pressure_mmhg,
                                        list(position_of))
        self.rollers = {r.zone: RollerPhysics(self.params.motor) for r in config.rollers}
        self.heartbeat_toggled_s = -math.inf
        self.powered = False
        self._frozen_pressure: dict[str, float] = {}
        self._drift_start: dict[str, float] = {}
        self._leaks: dict[str, float] = {}
        self._fill_open = {c.zone: False for c in config.chambers}
        self._vent_open = {c.zone: True for c in config.chambers}
        # The wiring `_step` walks every physics sub-step, resolved once: (zone, model, pins).
        # With the fault lookups skipped while no fault is active and the valve coils read from
        # the expander in one word, this saves ~8 % of a `--speed 0` scan tick (bench speed).
        self._heater_wiring = [(p.zone, self.pads[p.zone], p.heater_pin) for p in config.pads]
        self._valve_wiring = [(c.zone, c.fill_pin, c.vent_pin) for c in config.chambers]
        self._roller_wiring = [(r.zone, self.rollers[r.zone], r.pwm_pin, r.dir_pin) for r in config.rollers]
        # The output pins the physics reads. The drivers claim the same pin objects later
        # (the mock factory hands out one object per pin); until then a pin is an input.
        outputs = [b.relay_pin, b.heartbeat_pin, b.pump_pin, b.buzzer_pin, *(p.heater_pin for p in config.pads)]
        outputs += [pin for r in config.rollers for pin in (r.pwm_pin, r.dir_pin)]
        self._pins = {number: self.pin_factory.line(number) for number in outputs}

        # --- chips on the fake bus ---
        self.expander = FakeMCP23017()
        self.expander.on_write = self.advance
        for ch in config.chambers:
            self.expander.pin_out(ch.fill_pin)  # refuse a pin the expander lacks now, not mid-run
            self.expander.pin_out(ch.vent_pin)
        self.bus.attach(b.expander_address, self.expander)
        self.chip_address: dict[str, int] = {"expander": b.expander_address}
        self.adcs: dict[str, FakeADS1115] = {}
        adc_inputs: dict[str, dict[int, Callable[[], float]]] = {name: {} for name in b.adcs}
        for pad in config.pads:
            adc_inputs[pad.thermistor.adc][pad.thermistor.channel] = self._thermistor_input(pad.zone)
        for ch in config.chambers:
            adc_inputs[ch.pressure.adc][ch.pressure.channel] = self._pressure_input(ch.zone)
        for name, chip in b.adcs.items():
            inputs = adc_inputs[name]
            adc = FakeADS1115(self._adc_reader(inputs))
            self.adcs[name] = adc
            self.bus.attach(chip.address, adc)
            self.chip_address[name] = chip.address
        for pad in config.pads:
            self.bus.attach(pad.digital_sensor_address, FakeMCP9808(self._digital_input(pad.zone)))
            self.chip_address[f"pad:{pad.zone}"] = pad.digital_sensor_address
        for r in config.rollers:
            self.bus.attach(r.current_sensor_address,
                            FakeINA219(self._current_input(r.zone), shunt_ohm=b.roller_shunt_ohm,
                                       ripple=self._motor_pwm(r.pwm_pin)))
            self.chip_address[f"roller:{r.zone}"] = r.current_sensor_address
        for ch in config.chambers:
            self.chip_address[f"chamber:{ch.zone}"] = b.adcs[ch.pressure.adc].address

        # The e-stop is a normally-closed contact to GND: intact = low. Claim the pin as a
        # pull-up input now so the test/CLI can drive it; the driver re-opens the same pin.
        self.estop_pin = self.pin_factory.line(b.buttons.estop)
        self.estop_pin.drive_low()

    # ------------------------------------------------------------------ time
    def now_sim_s(self) -> float:
        """Seconds since the simulator started (the time base of ``--inject ...@SECONDS``)."""
        return self._now() - self.t0_s

    def advance(self) -> None:
        """Integrate the physics up to now with the outputs that held since the last call."""
        t_end = self._now()
        if t_end <= self.t_s + 1e-12:
            return  # already integrated up to now (several chips are read in one instant)
        with self._physics_lock:
            while self.t_s < t_end - 1e-12:
                dt = min(MAX_STEP_S, t_end - self.t_s)
                self._step(dt)
                self.t_s += dt
                self._start_due_faults()

    def _start_due_faults(self) -> None:
        for inj in self.faults.due(self.t_s - self.t0_s):
            self._apply_start(inj)

    # ------------------------------------------------------------------ faults
    def zones(self) -> dict[str, list[str]]:
        return {"pad": list(self.pads), "chamber": list(self.pneumatics.pressure_mmhg),
                "roller": list(self.rollers)}

    def chip_names(self) -> list[str]:
        return [name for name in self.chip_address if ":" not in name] + [
            f"0x{a:02x}" for a in sorted(set(self.chip_address.values()))]

    def inject(self, spec: str | Injection) -> Injection:
        """Schedule a fault: ``NAME[:ZONE]@SECONDS`` (simulated seconds since start)."""
        inj = spec if isinstance(spec, Injection) else parse_injection(spec, self.zones(), self.chip_names())
        self.faults.add(inj)
        self._start_due_faults()
        return inj

    def inject_now(self, name: str, zone: str | None = None) -> Injection:
        self.advance()
        inj = make_injection(name, zone, self.now_sim_s(), self.zones(), self.chip_names())
        return self.inject(inj)

    def _chip_address_for(self, zone: str) -> int:
        if zone in self.chip_address:
            return self.chip_address[zone]
        if zone.startswith("0x"):
            return int(zone, 16)
        for family in ("pad", "chamber", "roller"):
            if f"{family}:{zone}" in self.chip_address:
                return self.chip_address[f"{family}:{zone}"]
        raise KeyError(zone)

    def _apply_start(self, inj: Injection) -> None:
        if inj.name == "chip_missing":
            self.bus.set_missing(self._chip_address_for(inj.zone), True)
        elif inj.name == "bus_hang":
            self.bus.set_hang(True, stall=self._stall, stall_s=BUS_HANG_S)
        elif inj.name == "bus_hang_eio":
            self.bus.set_hang_kind("pi4_clock_stretch", stall=self._stall)
        elif inj.name == "bus_hang_eagain":
            self.bus.set_hang_kind("pi5_busy", stall=self._stall)
        elif inj.name == "sda_stuck_low":
            self.bus.set_sda_stuck_low(True)
        elif inj.name == "expander_reset":
            self.advance()
            self.expander.reset()
        elif inj.name == "estop":
            self.estop_pin.drive_high()
        elif inj.name == "pressure_sensor_frozen":
            self._frozen_pressure[inj.zone] = self.pressure_lag.seen_mmhg[inj.zone]
        elif inj.name == "temp_sensor_drift":
            self._drift_start[inj.zone] = self.t_s
        elif inj.name == "leak":
            self._leaks[inj.zone] = LEAK_CONDUCTANCE_FACTOR
        elif inj.name == "pump_dead":
            self.pneumatics.pump_efficiency = 0.0

    def _stall(self, seconds: float) -> None:
        loop = self.loop
        if loop is None or threading.get_ident() == self._loop_thread or loop.is_closed():
            self.pending_stall_s += seconds
            return
        # A worker thread, as on a Pi: block it until the loop's clock has moved on `seconds`
        # (bounded in real time too, so a loop that stopped cannot strand the thread).
        done = threading.Event()
        loop.call_soon_threadsafe(loop.call_later, seconds, done.set)
        done.wait(timeout=seconds + 2.0)

    def take_stall_s(self) -> float:
        """Bus time lost to a hang since the last call (the board waits it out on the loop)."""
        s, self.pending_stall_s = self.pending_stall_s, 0.0
        return s

    def settle_inputs(self) -> None:
        """After the drivers claimed their pins (setting pulls), put the inputs where the
        hardware holds them: the e-stop contact closed unless an estop fault is active."""
        if self.faults.is_active("estop"):
            self.estop_pin.drive_high()
        else:
            self.estop_pin.drive_low()

    def press_button(self, name: str) -> None:
        self.pin_factory.line(getattr(self.config.board.buttons, name)).drive_low()

    def release_button(self, name: str) -> None:
        self.pin_factory.line(getattr(self.config.board.buttons, name)).drive_high()

    def release_estop(self) -> None:
        self.faults.clear("estop")
        self.estop_pin.drive_low()

    def press_estop(self) -> None:
        self.estop_pin.drive_high()

    # ------------------------------------------------------------------ pins
    def _pin_value(self, number: int) -> float:
        """What a pin puts on its MOSFET gate or coil driver at the physics' time (0..1): a
        driven level, a PWM pin's applied duty, an input's pull (floating counts as on)."""
        return self._pins[number].drive(self.t_s)

    def pin_level(self, number: int) -> str:
        """``high``, ``low`` or ``floating``: what the pin does electrically now."""
        return self.pin_factory.level(number)

    def output_levels(self) -> dict[str, str]:
        """Every output pin of the board by its function (``relay``, ``heater:left_foot``,
        ``motor_pwm:left_calf``, ...) and its level now: for the power-up, stop and crash tests."""
        b = self.config.board
        pins = {"relay": b.relay_pin, "heartbeat": b.heartbeat_pin, "pump": b.pump_pin, "buzzer": b.buzzer_pin}
        pins |= {f"heater:{p.zone}": p.heater_pin for p in self.config.pads}
        for r in self.config.rollers:
            pins |= {f"motor_pwm:{r.zone}": r.pwm_pin, f"motor_dir:{r.zone}": r.dir_pin}
        return {name: self.pin_level(number) for name, number in pins.items()}

    def crash(self) -> None:
        """The controller's process dies: the kernel frees every GPIO line it held (no gpiozero
        close runs); each becomes an input keeping the pull it had."""
        self.advance()
        self.pin_factory.kernel_release_all()

    def _pin_changed(self, pin) -> None:
        if pin is self._pins[self.config.board.heartbeat_pin]:
            self.heartbeat_toggled_s = self._now()

    def _power_at(self, t_s: float) -> bool:
        relay = self._pin_value(self.config.board.relay_pin) > 0.5
        alive = t_s - self.heartbeat_toggled_s <= self.params.heartbeat_timeout_s
        return relay and alive

    # ------------------------------------------------------------------ physics
    def _step(self, dt: float) -> None:
        powered = self._power_at(self.t_s)
        self.powered = powered
        faults = self.faults if self.faults.active else None  # most sub-steps run with none
        for zone, pad, heater_pin in self._heater_wiring:
            duty = self._pin_value(heater_pin)
            if faults is not None and faults.is_active("heater_stuck_on", zone):
                duty = 1.0
            if not powered or (faults is not None and faults.is_active("heater_open", zone)):
                duty = 0.0
            pad.step(dt, duty)
        # Bit n set: expander pin n is an output latched high. Unpowered, no coil is energised.
        driven = self.expander.driven_pins if powered else 0
        for zone, fill_pin, vent_pin in self._valve_wiring:
            energised_fill = bool(driven >> fill_pin & 1)
            energised_vent = bool(driven >> vent_pin & 1)
            self._fill_open[zone] = energised_fill or (
                faults is not None and faults.is_active("fill_valve_stuck_open", zone))
            self._vent_open[zone] = not energised_vent and not (
                faults is not None and faults.is_active("vent_valve_stuck_closed", zone))
        pump = self._pin_value(self.config.board.pump_pin) if powered else 0.0
        self.pneumatics.step(dt, pump, self._fill_open, self._vent_open, self._leaks or None)
        self.pressure_lag.follow(dt)
        for zone, roller, pwm_pin, dir_pin in self._roller_wiring:
            enable = self._pin_value(pwm_pin)
            reverse = self._pin_value(dir_pin) > 0.5
            command = -enable if reverse else enable
            stalled = faults is not None and faults.is_active("roller_stall", zone)
            roller.step(dt, command, powered, stalled)

    # ------------------------------------------------------------------ chip inputs
    def _adc_reader(self, inputs: dict[int, Callable[[], float]]) -> Callable[[int], float]:
        def read(channel: int) -> float:
            self.advance()
            source = inputs.get(channel)
            return source() if source else 0.0  # an unconnected input sits at ground
        return read

    def _thermistor_input(self, zone: str) -> Callable[[], float]:
        tp = self.params.thermistor

        def volts() -> float:
            if self.faults.is_active("temp_sensor_open", zone):
                return tp.supply_v  # open lead: the series resistor pulls the input high
            if self.faults.is_active("temp_sensor_short", zone):
                return 0.0
            temp = self.pads[zone].thermistor_c
            if zone in self._drift_start:
                temp -= DRIFT_C_PER_S * (self.t_s - self._drift_start[zone])
            return thermistor_volts(temp, tp)
        return volts

    def _pressure_input(self, zone: str) -> Callable[[], float]:
        pp = self.params.pressure_sensor

        def volts() -> float:
            if zone in self._frozen_pressure:
                return pressure_volts(self._frozen_pressure[zone], pp)
            p = self.pressure_lag.seen_mmhg[zone] + self._noise.gauss(0.0, PRESSURE_NOISE_MMHG)
            return pressure_volts(p, pp)
        return volts

    def _digital_input(self, zone: str) -> Callable[[], float]:
        def temp() -> float:
            self.advance()
            return self.pads[zone].digital_c
        return temp

    def _motor_pwm(self, pwm_pin: int) -> Callable[[], tuple[float, float]]:
        """The enable pin's applied duty and PWM frequency: the current's ripple (the motor draws
        from the supply only while the bridge is enabled)."""
        def ripple() -> tuple[float, float]:
            pin = self._pins[pwm_pin]
            return pin.drive(self.t_s), pin.frequency or 0.0
        return ripple

    def _current_input(self, zone: str) -> Callable[[], float]:
        def amps() -> float:
            self.advance()
            return self.rollers[zone].current_a
        return amps

    # ------------------------------------------------------------------ views for tests
    def true_state(self) -> dict:
        """What really happens in the plant (not what the sensors say): for tests and reports."""
        self.advance()
        return {
            "powered": self.powered,
            "pad_surface_c": {z: p.surface_c for z, p in self.pads.items()},
            "pressure_mmhg": dict(self.pneumatics.pressure_mmhg),
            "fill_open": dict(self._fill_open),
            "vent_open": dict(self._vent_open),
            "roller_speed": {z: r.speed for z, r in self.rollers.items()},
            "roller_current_a": {z: r.current_a for z, r in self.rollers.items()},
        }

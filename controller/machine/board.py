"""Builds the driver objects from the config and reads/writes them as one board.

This is the one place that knows whether the hardware is real or simulated
(``build_board``); everything above it sees a ``Board``. Blocking I2C work runs off the event
loop thread on real hardware, so a slow or hung bus delays the tick that waits for it (and the
watchdog notices) but never freezes the loop itself.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Callable

from controller.model.config import MachineConfig
from controller.model.outputs import Outputs
from controller.model.readings import ErrorZone, PadReading, ReadingError, Readings
from drivers.ads1115 import ADS1115
from drivers.buttons import EStopInput, PanelButton
from drivers.buzzer import PanelBuzzer
from drivers.bus_recovery import RecoveryPins, RecoveryResult, clear_bus
from drivers.errors import ConversionTimeout, DriverError, ExpanderReset, StuckBusReading, is_bus_hang
from drivers.heartbeat import Heartbeat
from drivers.heater import Heater
from drivers.i2c import I2CBus
from drivers.ina219 import INA219
from drivers.led import ExpanderLed
from drivers.mcp23017 import MCP23017
from drivers.mcp9808 import MCP9808
from drivers.pressure_sensor import AnalogPressureSensor
from drivers.pump import Pump
from drivers.relay import MasterRelay
from drivers.roller_motor import RollerMotor
from drivers.thermistor import BetaThermistor
from drivers.valve import Valve

log = logging.getLogger("legtherapy.board")
NAN = math.nan
EXPANDER = ErrorZone("machine", "expander")
EXPANDER_CHECK_S = 1.0  # read the expander's registers back this often
#: after a reset the expander zone stays failing (relay held open) this long: longer than the
#: safety layer's stale-reading time, so a reset always latches a chip_error fault
EXPANDER_RESET_HOLD_S = 2.0
#: a stuck SDA gets the nine-clock bus clear at most this often (a bus that stays stuck is
#: tried again, never hammered)
BUS_RECOVERY_EVERY_S = 1.0


@dataclass
class _ReadResult:
    pads: dict[str, tuple[float, float]] = field(default_factory=dict)
    pressure: dict[str, float] = field(default_factory=dict)
    current: dict[str, float] = field(default_factory=dict)
    errors: list[ReadingError] = field(default_factory=list)
    hung: bool = False  # a transfer found the bus hung: the rest of the tick was skipped
    sda_stuck: bool = False  # a reading of all zeros or a conversion never done: SDA held low?


def _wall_time_of(fn: Callable[[], object]) -> float:
    """Seconds ``fn`` took on this machine's clock: a Pi's bus time is what its reads take."""
    t0 = time.monotonic()
    fn()
    return time.monotonic() - t0


@dataclass(frozen=True)
class _AnalogInput:
    """One ADS1115 input and the zone it reads (a chamber's pressure or a pad's thermistor)."""

    zone: ErrorZone
    adc: ADS1115
    channel: int


class _TickReads:
    """One tick's driver calls: each failure becomes a ``ReadingError`` for its zone.

    A hung bus costs the kernel's timeout per transaction (35 ms for a Pi 4's EIO, 1 s for
    ETIMEDOUT): after the first hang in a tick, whichever way the adapter reported it, the rest
    of the tick's calls fail at once with it instead of each waiting again.
    """

    def __init__(self, errors: list[ReadingError]) -> None:
        self.errors = errors
        self._hung: DriverError | None = None
        self.sda_stuck = False  # what a chip holding SDA low looks like was seen

    @property
    def hung(self) -> bool:
        return self._hung is not None

    def value(self, zone: ErrorZone, read: Callable[..., float], *args) -> float:
        """``read(*args)``, or NaN if it failed."""
        try:
            if self._hung is not None:
                raise self._hung
            return read(*args)
        except DriverError as err:
            self._failed(zone, err)
            return NAN

    def done(self, zone: ErrorZone, action: Callable[..., None], *args) -> bool:
        """``action(*args)`` completed (False: it failed)."""
        try:
            if self._hung is not None:
                raise self._hung
            action(*args)
            return True
        except DriverError as err:
            self._failed(zone, err)
            return False

    def _failed(self, zone: ErrorZone, err: DriverError) -> None:
        self.errors.append(ReadingError(zone, str(err)))
        if isinstance(err, (StuckBusReading, ConversionTimeout)):
            self.sda_stuck = True
        if self._hung is None and is_bus_hang(err):  # EIO, ETIMEDOUT, EAGAIN, conversion timeout, stuck SDA
            self._hung = err


class Board:
    """The machine's sensors and actuators, built from config. Starts in the safe state."""

    def __init__(self, config: MachineConfig, smbus, pin_factory=None, *, io_in_thread: bool = True,
                 stall_source: Callable[[], float] | None = None,
                 pressure_offsets: dict[str, float] | None = None,
                 bus_timer: Callable[[Callable[[], object]], float] = _wall_time_of,
                 recovery_pins: RecoveryPins | None = None) -> None:
        self.config = config
        b = config.board
        self._io_in_thread = io_in_thread
        self._stall_source = stall_source
        self._bus_timer = bus_timer  # seconds a piece of bus work takes (the simulator: its timing model)
        self._recovery_pins = recovery_pins  # SDA/SCL as GPIO for the nine-clock bus clear (None: no recovery)
        self._last_recovery_read = -math.inf  # the read count of the last bus clear
        self.last_recovery: RecoveryResult | None = None
        self._last_written: Outputs | None = None
        self._relay_closed: bool | None = None  # what the relay pin was last set to (None: unknown)
        self.write_errors: list[ReadingError] = []
        self._last_safe_state_error = ""  # the watchdog may force the safe state 50 times a second
        self._safe_generation = 0  # counts safe states: a write that overlapped one keeps nothing

        # Outputs first, each created in its unpowered (safe) state: relay open, duties 0.
        self.relay = MasterRelay(b.relay_pin, pin_factory=pin_factory)
        self.heartbeat = Heartbeat(b.heartbeat_pin, pin_factory=pin_factory)
        self.heaters = {p.zone: Heater(p.heater_pin, period_s=b.heater_period_s, step_s=config.rates.period_s,
                                       pin_factory=pin_factory) for p in config.pads}
        self.pump = Pump(b.pump_pin, frequency_hz=b.pump_pwm_hz, pin_factory=pin_factory)
        self.motors = {r.zone: RollerMotor(r.pwm_pin, r.dir_pin, frequency_hz=b.motor_pwm_hz,
                                           pin_factory=pin_factory) for r in config.rollers}
        self.buzzer = PanelBuzzer(b.buzzer_pin, pin_factory=pin_factory)

        self.i2c = I2CBus(smbus, b.i2c_bus)
        self.expander = MCP23017(self.i2c, b.expander_address)
        expander_pins = [c.fill_pin for c in config.chambers] + [c.vent_pin for c in config.chambers]
        expander_pins += list(b.leds.model_dump().values())
        self.fill_valves = {c.zone: Valve(self.expander, c.fill_pin, normally_open=False) for c in config.chambers}
        self.vent_valves = {c.zone: Valve(self.expander, c.vent_pin, normally_open=True) for c in config.chambers}
        self.leds = {name: ExpanderLed(self.expander, pin) for name, pin in b.leds.model_dump().items()}
        self._startup_errors: list[ReadingError] = []  # reported with the first readings
        self._expander_pins = expander_pins
        self._try(lambda: self.expander.configure_outputs(expander_pins), EXPANDER)
        self._reads_done = 0
        self._expander_reset_ticks = 0  # ticks left of a reset's hold
        self._expander_reset_text = ""

        self.adcs = {name: ADS1115(self.i2c, a.address, fs_v=a.fs_v, data_rate_sps=a.data_rate_sps)
                     for name, a in b.adcs.items()}
        t = b.thermistor
        self.thermistors = {p.zone: BetaThermistor(r25_ohm=t.r25_ohm, beta=t.beta, series_ohm=t.series_ohm,
                                                   supply_v=t.supply_v, offset_c=p.thermistor_offset_c)
                            for p in config.pads}
        self.digital_sensors = {p.zone: MCP9808(self.i2c, p.digital_sensor_address) for p in config.pads}
        offsets = pressure_offsets or {}
        ps = b.pressure_sensor
        self.pressure_sensors = {
            c.zone: AnalogPressureSensor(range_mmhg=ps.range_mmhg, supply_v=ps.supply_v,
                                         offset_mmhg=offsets.get(c.zone, c.pressure_offset_mmhg))
            for c in config.chambers}
        self.current_sensors = {r.zone: INA219(self.i2c, r.current_sensor_address, shunt_ohm=b.roller_shunt_ohm,
                                               max_expected_a=b.roller_max_current_a) for r in config.rollers}
        for zone, sensor in self.current_sensors.items():
            self._try(sensor.configure, ErrorZone("roller", zone))
        for zone, sensor in self.digital_sensors.items():
            self._try(sensor.probe, ErrorZone("pad", zone))

        self.estop = EStopInput(b.buttons.estop, pin_factory=pin_factory)
        self.buttons = {name: PanelButton(pin, pin_factory=pin_factory)
                        for name, pin in b.buttons.model_dump().items() if name != "estop"}
        self._pads_last: dict[str, PadReading] = {p.zone: PadReading(NAN, NAN, -math.inf) for p in config.pads}
        self._pressure_t: dict[str, float] = {c.zone: -math.inf for c in config.chambers}
        self._pad_cursor = 0  # the next pad in the rotation
        self._rounds: dict[tuple[str, ...], list[list[_AnalogInput]]] = {}  # by the pads read, built once
        self.set_rates(config)

    def set_rates(self, config: MachineConfig) -> None:
        """Take the scan rate of ``config`` (the supervisor may choose a lower one at start):
        the heater window's slots, the expander check, the pads read a tick."""
        self.config = config
        period_s = config.rates.period_s
        for heater in self.heaters.values():
            heater.slots = max(1, round(heater.period_s / period_s))  # one slot a tick
        self._expander_check_every = max(1, round(EXPANDER_CHECK_S / period_s))
        self._recovery_every = max(1, round(BUS_RECOVERY_EVERY_S / period_s))
        #: the pads read each tick, in rotation: the fewest that read every pad at least once in
        #: ``thermal_every_n_ticks`` (the old "every pad on every Nth tick", spread over the N
        #: ticks) with a rotation that divides N, so a pad's heat control, stepping every N ticks
        #: on a tick that read it, keeps an even step; one pad a tick with 4 pads and N = 12
        #: (each pad every 4th tick), two with N = 6
        n_pads, n = len(config.pads), config.rates.thermal_every_n_ticks
        per_tick = max(1, min(n_pads, math.ceil(n_pads / n)))
        while per_tick < n_pads and n % math.ceil(n_pads / per_tick):
            per_tick += 1
        self.pads_per_tick = per_tick
        self.rotation_ticks = math.ceil(n_pads / per_tick) if n_pads else 1  # ticks to read every pad

    def _try(self, fn, zone: ErrorZone) -> None:
        try:
            fn()
        except DriverError as err:
            log.error("at start-up: %s", err)
            self._startup_errors.append(ReadingError(zone, str(err)))

    def set_pressure_offset(self, zone: str, offset_mmhg: float) -> None:
        self.pressure_sensors[zone] = self.pressure_sensors[zone].with_offset(offset_mmhg)

    # ------------------------------------------------------------------ reading
    def _pads_due(self, all_pads: bool) -> tuple[str, ...]:
        """The pads this tick reads: the next ``pads_per_tick`` of the rotation, or every pad."""
        pads = self.config.pad_names
        if all_pads:
            return tuple(pads)
        k, start = self.pads_per_tick, self._pad_cursor
        self._pad_cursor = (start + k) % len(pads) if pads else 0
        return tuple(pads[(start + i) % len(pads)] for i in range(k))

    def _rounds_for(self, pads: tuple[str, ...]) -> list[list[_AnalogInput]]:
        """This tick's ADS1115 conversions in side-by-side rounds: every chamber's pressure and
        the thermistors of the pads due."""
        rounds = self._rounds.get(pads)
        if rounds is None:
            cfg = self.config
            inputs = [_AnalogInput(ErrorZone("chamber", c.zone), self.adcs[c.pressure.adc], c.pressure.channel)
                      for c in cfg.chambers]
            inputs += [_AnalogInput(ErrorZone("pad", p.zone), self.adcs[p.thermistor.adc], p.thermistor.channel)
                       for p in cfg.pads if p.zone in pads]
            rounds = self._rounds[pads] = _side_by_side(inputs)
        return rounds

    def _read_sync(self, thermal: bool) -> _ReadResult:
        """One tick's reads. The conversion waits are the slow part of a tick (1.28 ms each at
        860 SPS): the reads that never wait (each roller's INA219, the pads' MCP9808) go out
        while the first round converts, and the pads are read in rotation (``pads_per_tick``),
        so no tick carries every thermistor. ``thermal``: read every pad this tick too."""
        out = _ReadResult(errors=self._startup_errors)
        self._startup_errors = []
        reads = _TickReads(out.errors)
        self._reads_done += 1
        verify = False
        if self._expander_reset_ticks > 0:
            self._expander_reset_ticks -= 1
            out.errors.append(ReadingError(EXPANDER, self._expander_reset_text))
        else:
            verify = self._reads_done % self._expander_check_every == 0
        pads = self._pads_due(thermal)
        digital: dict[str, float] = {}
        volts: dict[ErrorZone, float] = {}  # each analog input's volts (NaN: not read)
        rounds = self._rounds_for(pads)
        for k, round_ in enumerate(rounds):
            started = [inp for inp in round_ if reads.done(inp.zone, inp.adc.start, inp.channel)]
            for inp in round_:
                volts[inp.zone] = NAN
            if k == 0:  # while the first round converts
                self._read_waitless(reads, pads, digital, out)
            elif k == 1 and verify:  # the expander's read-back while the second round converts
                reads.done(EXPANDER, self._verify_expander)
                verify = False
            for inp in started:
                volts[inp.zone] = reads.value(inp.zone, inp.adc.finish_voltage)
        if not rounds:
            self._read_waitless(reads, pads, digital, out)
        if verify:  # fewer than two rounds
            reads.done(EXPANDER, self._verify_expander)
        for c in self.config.chambers:
            # looked up per tick: a calibration replaces a sensor. NaN volts give NaN mmHg.
            sensor = self.pressure_sensors[c.zone]
            out.pressure[c.zone] = sensor.volts_to_mmhg(volts[ErrorZone("chamber", c.zone)])
        for pad in pads:
            t1 = self.thermistors[pad].volts_to_c(volts[ErrorZone("pad", pad)])  # NaN stays NaN
            out.pads[pad] = (t1, digital[pad])
        out.hung = reads.hung
        out.sda_stuck = reads.sda_stuck
        if reads.sda_stuck:
            self._recover_bus(out.errors)
        return out

    def _recover_bus(self, errors: list[ReadingError]) -> None:
        """A read of all zeros or a conversion that never finished: what a slave holding SDA
        low looks like. Send the nine-clock bus clear (drivers/bus_recovery.py), at most once
        in ``BUS_RECOVERY_EVERY_S``, and log what it did. This tick's readings stay failed
        (the safety checks judge them as before: a bus that stays stuck still latches its
        fault within the stale-reading time); after a clear that freed SDA, the expander is
        configured again (writes made while SDA was low were lost) and the next write puts
        every valve back."""
        if self._recovery_pins is None or self._reads_done - self._last_recovery_read < self._recovery_every:
            return
        self._last_recovery_read = self._reads_done
        pins = self._recovery_pins
        try:
            result = self.i2c.recover(lambda: clear_bus(pins))
        except Exception as err:  # best effort (pinctrl missing, a pin refused): the fault path stands
            log.error("I2C bus %d stuck (SDA held low): nine-clock recovery could not run: %s",
                      self.i2c.bus_number, err)
            return
        self.last_recovery = result
        if not result.released:
            log.error("I2C bus %d stuck (SDA held low): nine-clock recovery failed: %s", self.i2c.bus_number,
                      result.describe())
            return
        log.warning("I2C bus %d stuck (SDA held low): nine-clock recovery: %s", self.i2c.bus_number,
                    result.describe())
        self._last_written = None
        try:
            self.expander.configure_outputs(self._expander_pins)
        except DriverError as err:
            errors.append(ReadingError(EXPANDER, str(err)))

    def _read_waitless(self, reads: _TickReads, pads: tuple[str, ...], digital: dict[str, float],
                       out: _ReadResult) -> None:
        """The reads that never wait for a conversion: the due pads' MCP9808 (converting
        continuously) and every roller's INA219 (averaging continuously)."""
        for pad in pads:
            digital[pad] = reads.value(ErrorZone("pad", pad), self.digital_sensors[pad].read_temp_c)
        for zone, sensor in self.current_sensors.items():
            running = self.motors[zone].speed != 0.0
            out.current[zone] = reads.value(ErrorZone("roller", zone), lambda s=sensor, r=running: s.read_current_a(running=r))

    def measure_bus_time_s(self) -> float | None:
        """The worst read phase over one whole cycle of the read schedule (every pad of the
        rotation, the expander's read-back), in seconds of bus time: timed on a Pi, from the
        timing model on the simulator. At start, before the scan cycle: the readings are
        thrown away (the start-up errors are kept for the first tick). None if the bus hung
        (a hang is the fault the first tick will report, not a bus time)."""
        ticks = max(self._expander_check_every, self.rotation_ticks)
        saved = self._pad_cursor, self._startup_errors
        worst = 0.0
        try:
            for _ in range(ticks):
                self._startup_errors = []
                result: list[_ReadResult] = []
                seconds = self._bus_timer(lambda: result.append(self._read_sync(False)))
                if result and result[0].hung:
                    return None
                worst = max(worst, seconds)
        finally:
            self._pad_cursor, self._startup_errors = saved  # the first tick reads the first pad
        return worst

    def _verify_expander(self) -> None:
        """Once a second: the expander still holds what we wrote. A reset let every valve go
        limp and ``flush()`` (changed bytes only) would never notice: re-configure it, hold the
        relay open and report the zone failing for EXPANDER_RESET_HOLD_S."""
        try:
            self.expander.verify()
        except ExpanderReset as err:
            log.error("%s", err)
            self._expander_reset_text = str(err)
            self._expander_reset_ticks = round(EXPANDER_RESET_HOLD_S / self.config.rates.period_s)
            self._open_relay()
            self._last_written = None  # every valve is written again at the next write
            self.expander.configure_outputs(self._expander_pins)
            raise

    async def read(self, now_s: float, thermal: bool) -> Readings:
        if self._io_in_thread:
            raw = await asyncio.to_thread(self._read_sync, thermal)
        else:
            raw = self._read_sync(thermal)
        if self._stall_source is not None:
            stall_s = self._stall_source()  # a simulated bus hang: wait out the kernel's I2C timeout
            if stall_s > 0:
                await asyncio.sleep(stall_s)
                now_s = asyncio.get_running_loop().time()  # the readings are as late as the hang made them
        for zone, (t1, t2) in raw.pads.items():
            if math.isnan(t1) and math.isnan(t2):
                continue  # keep the last good reading; its age makes it stale
            self._pads_last[zone] = PadReading(t1, t2, now_s)
        for zone, p in raw.pressure.items():
            if not math.isnan(p):
                self._pressure_t[zone] = now_s
        errors = tuple(raw.errors + self.write_errors)
        self.write_errors = []
        return Readings(
            t_s=now_s,
            pads=dict(self._pads_last),
            pressure_mmhg=raw.pressure,
            pressure_t_s=dict(self._pressure_t),
            roller_current_a=raw.current,
            estop_tripped=self.estop.is_tripped,
            thermal_fresh=bool(raw.pads),  # a pad was read this tick (its reading's t_s says which)
            errors=errors,
        )

    # ------------------------------------------------------------------ writing
    def _write_sync(self, out: Outputs) -> None:
        """Write what changed since the last write (everything after a safe state)."""
        generation = self._safe_generation
        last = self._last_written
        for zone, heater in self.heaters.items():
            duty = out.heater_duty.get(zone, 0.0)
            if last is None or last.heater_duty.get(zone) != duty:
                heater.set_duty(duty)
            heater.step()  # time-proportioning: one slot of the heater window per tick
        if last is None or last.pump_duty != out.pump_duty:
            self.pump.set_duty(out.pump_duty)
        for zone, motor in self.motors.items():
            speed = out.roller_speed.get(zone, 0.0)
            if last is None or last.roller_speed.get(zone) != speed:
                motor.set_speed(speed)
        fill, vent = out.fill_open, out.vent_open
        if last is None or last.fill_open != fill or last.vent_open != vent:
            for zone, valve in self.fill_valves.items():
                valve.set_open(fill.get(zone, False))
            for zone, valve in self.vent_valves.items():
                valve.set_open(vent.get(zone, True))
        relay_closed = out.relay_closed and self._expander_reset_ticks == 0
        if relay_closed != self._relay_closed:
            if relay_closed:
                self.relay.close()
            else:
                self.relay.open()
            self._relay_closed = relay_closed
        try:
            self.expander.flush()
        except DriverError as err:
            # Valves we cannot command: drop the relay so every valve de-energises and vents.
            self.relay.open()
            self._relay_closed = False
            self.write_errors.append(ReadingError(EXPANDER, str(err)))
        if generation == self._safe_generation:  # a safe state meanwhile: write everything next time
            self._last_written = out

    async def write(self, out: Outputs) -> None:
        if self._io_in_thread:
            await asyncio.to_thread(self._write_sync, out)
        else:
            self._write_sync(out)

    def toggle_heartbeat(self) -> None:
        self.heartbeat.toggle()

    def safe_state(self) -> None:
        """Everything off, relay open, every valve de-energised (vents open). Never raises.

        Touches the I2C bus (the valve expander): not for the event-loop thread while the I/O
        thread may be stuck on a hung bus; the watchdog uses ``gpio_safe_state``."""
        self._relay_closed = None  # unknown until opened below; the next write sets it again
        steps = self._gpio_safe_steps()
        steps += [lambda v=v: v.set_open(False) for v in self.fill_valves.values()]
        steps += [lambda v=v: v.set_open(True) for v in self.vent_valves.values()]
        steps += [self.expander.flush]
        self._run_safe_steps(steps)

    def gpio_safe_state(self) -> None:
        """The watchdog's safe state: header GPIO only (relay open, heaters, pump, motors off),
        never the I2C bus nor the expander's lock, which the I/O thread holds while it waits out
        a hung bus (on a Pi, up to the kernel's 1 s timeout a transfer, again and again). Opening
        the relay already de-energises every valve (vents open, fills shut); the valves' own
        commands go out from the I/O side with the next write, which writes everything. Never
        raises."""
        self._run_safe_steps(self._gpio_safe_steps())

    def _gpio_safe_steps(self) -> list[Callable[[], None]]:
        steps = [self._open_relay, lambda: self.pump.set_duty(0.0)]
        steps += [h.off for h in self.heaters.values()]
        steps += [lambda m=m: m.set_speed(0.0) for m in self.motors.values()]
        return steps

    def _run_safe_steps(self, steps: list[Callable[[], None]]) -> None:
        self._safe_generation += 1
        for step in steps:
            try:
                step()
            except Exception as err:  # best effort: every other step must still run
                if str(err) != self._last_safe_state_error:
                    log.error("safe state: %s", err)
                self._last_safe_state_error = str(err)
        self._last_written = None

    def _open_relay(self) -> None:
        self.relay.open()
        self._relay_closed = False

    def close(self) -> None:
        self.safe_state()
        self.relay.release()  # open the contacts, then free the pin (relay.close() would energise it)
        devices = [self.heartbeat, self.pump, self.buzzer, self.estop,
                   *self.heaters.values(), *self.motors.values(), *self.buttons.values()]
        for dev in devices:
            try:
                dev.close()
            except Exception:  # closing is best effort too
                pass


def _side_by_side(inputs: list[_AnalogInput]) -> list[list[_AnalogInput]]:
    """The analog reads in rounds: each round starts one conversion on every ADS1115 with an
    input due, then collects them, so the chips convert side by side (one conversion at a time,
    every conversion wait would add up; docs/hardware.md §7 has the tick's bus time)."""
    queues: dict[int, list[_AnalogInput]] = {}  # each chip's inputs in order, by its I2C address
    for inp in inputs:
        queues.setdefault(inp.adc.address, []).append(inp)
    depth = max((len(q) for q in queues.values()), default=0)
    return [[q[k] for q in queues.values() if k < len(q)] for k in range(depth)]


def build_board(config: MachineConfig, *, sim=None, pressure_offsets: dict[str, float] | None = None,
                sim_io_in_thread: bool = False) -> Board:
    """Real hardware, or the simulator when ``sim`` (a sim.machine.SimulatedMachine) is given.

    The only switch point between the two. ``sim_io_in_thread``: the simulated board's I/O runs
    in a worker thread as on a Pi, and a simulated bus hang blocks that thread (not the loop).
    """
    if sim is not None:
        from sim.bus_timing import PI4, BusTimeModel, BusTimer

        # the simulated bus's time is the timing model's, at the configured clock, with a Pi 4's
        # per-transfer overhead (the slower of the two Pis)
        model = BusTimeModel(config.board.i2c_clock_hz, PI4, [a.address for a in config.board.adcs.values()])
        board = Board(config, sim.bus, sim.pin_factory, io_in_thread=sim_io_in_thread,
                      stall_source=sim.take_stall_s, pressure_offsets=pressure_offsets,
                      bus_timer=BusTimer(sim.bus, model).time_of, recovery_pins=sim.bus.recovery_pins())
        sim.settle_inputs()
        return board
    from drivers.pin_factory import make_pin_factory

    pin_factory = make_pin_factory()  # first: lgpio, or PinFactoryError saying what is missing
    import smbus2  # only on real hardware

    from drivers.bus_recovery import PinctrlPins

    # bus 1 is GPIO 2 (SDA) and 3 (SCL); another bus has no recovery route here
    pins = PinctrlPins(sda_gpio=2, scl_gpio=3) if config.board.i2c_bus == 1 else None
    return Board(config, smbus2.SMBus(config.board.i2c_bus), pin_factory, io_in_thread=True,
                 pressure_offsets=pressure_offsets, recovery_pins=pins)


def make_simulator(config: MachineConfig, now: Callable[[], float], **kwargs):
    """The simulated board (physics + chips + pins) for this config."""
    from sim.machine import SimulatedMachine

    return SimulatedMachine(config, now, **kwargs)

"""The bus schedule: the timing model of a tick's transfers, the pads read in rotation, and a
scan rate chosen at start from the measured bus time (a 100 kHz bus runs the machine at 25 Hz,
safely)."""

from __future__ import annotations

import logging
import math

import pytest

from controller.machine.board import build_board, make_simulator
from controller.machine.supervisor import BUS_SHARE_MAX, choose_scan_rate
from controller.model.config import load_config
from controller.model.readings import ErrorZone, PadReading, ReadingError, Readings
from controller.safety.context import ZoneNames
from controller.safety.machine_checks import ChipErrors
from sim.bus_timing import PI4, PI5, BusTimeModel, tick_stats, transfer_clocks
from sim.i2c_bus import Transfer
from tests.machine.simrun import run_sim

CFG = load_config()
ADCS = [a.address for a in CFG.board.adcs.values()]
START_860SPS = (0xC5, 0xE3)  # OS=1, AIN0, ±4.096 V, single-shot, 860 SPS, comparator off
CONVERSION_S = 1.1 / 860  # datasheet 1/DR, the oscillator 10 % slow


def config_at(clock_hz: int):
    return CFG.model_copy(update={"board": CFG.board.model_copy(update={"i2c_clock_hz": clock_hz})})


# -- the timing model ---------------------------------------------------------------------------


def test_clocks_of_each_transfer_kind():
    assert transfer_clocks(Transfer(0x48, True, 0x01, (0xC5, 0xE3))) == 38  # 16-bit register write
    assert transfer_clocks(Transfer(0x48, False, 0x00, (0x12, 0x34))) == 48  # pointer, repeated START, 2 bytes
    assert transfer_clocks(Transfer(0x20, True, 0x14, (0x01,))) == 29  # an expander byte
    assert transfer_clocks(Transfer(0x18, False, 0x05, (), acked=False)) == 11  # NACK after the address


def test_no_schedule_reads_every_chamber_in_5_ms_on_this_board():
    """The README's and docs/hardware.md §7's floor: a sleeve ADS1115 carries three chambers and
    converts one input at a time, so a tick that reads them all holds three conversions in a
    row, each with its own start, ready check and result on that chip, and at least two ioctls
    (start, collect) even with every other transfer hidden: ≥ 5.08 ms (Pi 4), 5.002 ms (Pi 5)."""
    chambers_per_adc = max(sum(1 for c in CFG.chambers if c.pressure.adc == name) for name in CFG.board.adcs)
    assert chambers_per_adc == 3
    own = [Transfer(0x49, True, 0x01, START_860SPS), Transfer(0x49, False, 0x01, START_860SPS),
           Transfer(0x49, False, 0x00, (0x12, 0x34))]
    for host, floor_ms in ((PI4, 5.08), (PI5, 5.002)):
        bound_s = chambers_per_adc * (CONVERSION_S + sum(transfer_clocks(t) for t in own) / 400_000) \
            + 2 * host.overhead_s
        assert round(bound_s * 1000, 3 if host is PI5 else 2) == floor_ms
        assert bound_s > 0.005


def test_a_16_bit_read_costs_the_overhead_plus_its_clocks():
    read = Transfer(0x40, False, 0x04, (0, 5))
    assert BusTimeModel(400_000, PI4, ADCS).transfer_s(read) == pytest.approx(0.12e-3 + 48 / 400_000)
    assert BusTimeModel(100_000, PI5, ADCS).transfer_s(read) == pytest.approx(0.08e-3 + 48 / 100_000)


def test_a_conversion_is_waited_for_as_the_driver_does():
    """Start, an early poll that finds it busy, a sleep until 1.1/DR after the start, the poll
    that finds it done, the result."""
    model = BusTimeModel(400_000, PI4, ADCS)
    write_s, read_s = 0.12e-3 + 38 / 4e5, 0.12e-3 + 48 / 4e5
    log = [Transfer(0x49, True, 0x01, START_860SPS), Transfer(0x49, False, 0x01, (0x85, 0xE3)),
           Transfer(0x49, False, 0x00, (0x40, 0x00))]
    assert model.tick_s(log) == pytest.approx(write_s + CONVERSION_S + 2 * read_s)
    # the MCP9808 and INA219 never wait, and an ADS1115 address alone does not make a read wait
    plain = [Transfer(0x18, False, 0x05, (0xC1, 0x90)), Transfer(0x40, False, 0x04, (0, 9)),
             Transfer(0x49, False, 0x00, (0x40, 0x00))]
    assert model.tick_s(plain) == pytest.approx(3 * read_s)


def test_two_chips_converting_side_by_side_wait_once():
    model = BusTimeModel(400_000, PI4, ADCS)
    one = [Transfer(0x49, True, 0x01, START_860SPS), Transfer(0x49, False, 0x01, (0x85, 0xE3)),
           Transfer(0x49, False, 0x00, (0x40, 0x00))]
    two = [one[0], Transfer(0x4A, True, 0x01, START_860SPS), one[1], one[2],
           Transfer(0x4A, False, 0x01, (0x85, 0xE3)), Transfer(0x4A, False, 0x00, (0x40, 0x00))]
    assert model.tick_s(two) < 2 * model.tick_s(one) - 0.9 * CONVERSION_S


def test_tick_stats_worst_p99_mean():
    stats = tick_stats([0.001] * 99 + [0.010])
    assert (stats.worst_s, stats.p99_s, stats.ticks) == (0.010, 0.001, 100)
    assert stats.mean_s == pytest.approx(0.00109)


# -- the schedule on the simulated board --------------------------------------------------------


class Rig:
    def __init__(self, config=CFG):
        self.t = 1000.0
        self.sim = make_simulator(config, lambda: self.t)
        self.board = build_board(config, sim=self.sim)

    async def tick(self, thermal=False) -> Readings:
        self.t = round(self.t + 0.02, 6)
        return await self.board.read(self.t, thermal)


async def test_every_tick_reads_every_chamber_and_roller_and_one_pad_in_rotation():
    rig = Rig()
    assert rig.board.pads_per_tick == 1  # 4 pads, every pad at least once in 12 ticks
    last_read = {}
    for i in range(12):
        r = await rig.tick()
        assert r.thermal_fresh
        assert all(not math.isnan(p) for p in r.pressure_mmhg.values()) and len(r.pressure_mmhg) == 6
        assert set(r.pressure_t_s.values()) == {r.t_s}
        assert len(r.roller_current_a) == 4
        fresh = [z for z, p in r.pads.items() if p.t_s == r.t_s]
        assert fresh == [CFG.pad_names[i % 4]]  # the pad's reading time is the tick that read it
        last_read.update({z: r.t_s for z in fresh})
        for z, p in r.pads.items():
            if z in last_read:
                assert p.t_s == last_read[z]
    # every pad every 4th tick: 0.08 s, three times as often as the old every 12th tick
    assert all(r.t_s - p.t_s <= 3 * 0.02 + 1e-9 for p in r.pads.values())
    rig.board.close()


async def test_a_tick_told_to_read_the_thermal_sensors_reads_every_pad():
    rig = Rig()
    r = await rig.tick(thermal=True)
    assert all(p.t_s == r.t_s for p in r.pads.values())
    rig.board.close()


def test_fewer_ticks_between_thermal_steps_read_more_pads_a_tick():
    """Every pad within N ticks, in a rotation that divides N (a pad's heat control steps every
    N ticks on a tick that read it): 4 pads, N = 6 (25 Hz) reads 2 a tick, N = 3 all four."""
    for n, per_tick in ((12, 1), (6, 2), (4, 1), (3, 4), (2, 2), (1, 4)):
        cfg = CFG.model_copy(update={"rates": CFG.rates.model_copy(update={"thermal_every_n_ticks": n})})
        rig = Rig(cfg)
        assert rig.board.pads_per_tick == per_tick, n
        rig.board.close()


def _tick_seconds(rig, model, ticks, thermal=False):
    rig.sim.bus.record_transfers(True)
    out = []
    for _ in range(ticks):
        rig.t += 0.02
        rig.board._read_sync(thermal)
        out.append(model.tick_s(rig.sim.bus.take_transfers()))
    return out


def test_spreading_the_pads_takes_the_thermal_tick_off_the_worst_tick():
    """At 400 kHz (a Pi 4's overhead, the slower) the old thermal tick (every pad at once) took
    ~13 ms; in rotation the worst tick, the expander's read-back and idle rollers' calibration
    checks included, stays under half the 20 ms period and ~4 ms under the old one."""
    rig = Rig()
    model = BusTimeModel(400_000, PI4, ADCS)
    spread = _tick_seconds(rig, model, 100)
    all_pads = _tick_seconds(rig, model, 1, thermal=True)[0]
    assert max(spread) <= BUS_SHARE_MAX * CFG.rates.period_s
    assert max(spread) < all_pads - 3.5e-3
    assert all_pads > 0.0125
    rig.board.close()


def test_the_board_measures_its_worst_tick_from_the_model_without_touching_the_schedule():
    rig = Rig(config_at(100_000))
    cursor, reads = rig.board._pad_cursor, rig.board._reads_done
    worst = rig.board.measure_bus_time_s()
    assert 0.015 < worst < 0.025  # ~19 ms at 100 kHz
    assert rig.board._pad_cursor == cursor  # the first tick still reads the first pad
    assert rig.board._reads_done == reads + 50  # a whole second: the expander's read-back included
    assert Rig(config_at(400_000)).board.measure_bus_time_s() < 0.010


# -- the rate chosen at start -------------------------------------------------------------------


def test_a_tick_that_fits_half_the_period_keeps_the_rate():
    chosen = choose_scan_rate(CFG, 0.010)  # exactly half of 20 ms
    assert chosen.config is CFG and not chosen.lowered
    assert choose_scan_rate(CFG, None).config is CFG


def test_a_slow_bus_divides_the_rate_and_keeps_the_pads_and_the_heat_step_as_often():
    """N / k rounded down to a whole rotation of the pads (4 ticks): one pad a tick, as measured,
    and the heat control at least as often in seconds as at 50 Hz (0.24 s)."""
    chosen = choose_scan_rate(config_at(100_000), 0.0101, rotation_ticks=4)
    assert chosen.config.rates.fast_hz == 25.0 and chosen.config.rates.thermal_every_n_ticks == 4  # 0.16 s
    assert chosen.lowered and "running at 25 Hz" in chosen.message and "100 kHz" in chosen.message
    third = choose_scan_rate(CFG, 0.0201, rotation_ticks=4).config.rates
    assert third.fast_hz == pytest.approx(50 / 3) and third.thermal_every_n_ticks == 4  # 0.24 s
    quarter = choose_scan_rate(CFG, 0.0301, rotation_ticks=4).config.rates
    assert quarter.fast_hz == 12.5 and quarter.thermal_every_n_ticks == 3  # under a rotation: 3 ticks, 0.24 s
    assert choose_scan_rate(CFG, 0.0101).config.rates.thermal_every_n_ticks == 6  # no rotation given
    assert chosen.config.limits == CFG.limits and chosen.config.board == config_at(100_000).board


def test_a_bus_too_slow_for_any_rate_runs_at_the_lowest_and_says_so():
    chosen = choose_scan_rate(CFG, 0.5)
    assert chosen.config.rates.fast_hz == 5.0 and "still too slow" in chosen.message


def test_chip_errors_on_a_pad_survive_the_ticks_that_read_other_pads():
    """In rotation a tick reads one pad: another pad's clean reading (or no error for a pad
    not read this tick) must not end a failing pad's run of errors."""
    chips = ChipErrors(CFG, ZoneNames(CFG))
    bad = ReadingError(ErrorZone("pad", "left_calf"), "MCP9808 at 0x19 on i2c-1: bus error [errno 5]")
    faults, t, i = [], 0.0, 0
    while not faults and t < 2.0:
        pad = CFG.pad_names[i % 4]
        pads = {z: PadReading(30.0, 30.0 if z != "left_calf" else math.nan, t if z == pad else t - 0.04)
                for z in CFG.pad_names}
        errors = (bad,) if pad == "left_calf" else ()
        r = Readings(t_s=t, pads=pads, pressure_mmhg={}, pressure_t_s={}, roller_current_a={},
                     estop_tripped=False, thermal_fresh=True, errors=errors)
        faults = chips.check(r, t)
        i += 1
        t = round(t + 0.02, 2)
    (fault,) = faults
    assert fault.code == "chip_error" and fault.zone == "pad:left_calf" and fault.t_s == pytest.approx(1.0, abs=0.061)


def test_at_100_khz_the_machine_runs_at_25_hz_and_a_fault_is_still_safe_in_time(tmp_path, caplog):
    """The README's bound for a shorted thermistor is the next thermal read + a tick (0.26 s):
    at 25 Hz each pad is read every 4th tick (0.16 s), so it holds."""
    caplog.set_level(logging.WARNING)
    result, rows = run_sim(tmp_path, program="full_leg", injections=["temp_sensor_short:left_foot@30"],
                           config=config_at(100_000), max_runtime_s=60)
    sup = result.supervisor
    assert sup.config.rates.fast_hz == 25.0 and sup.period_s == 0.04
    assert sup.config.rates.thermal_every_n_ticks == 4 and sup.board.pads_per_tick == 1  # as measured
    assert "I2C bus too slow for 50 Hz" in caplog.text and "running at 25 Hz" in caplog.text
    assert any(n.code == "scan_rate_lowered" for n in sup.notices.in_force)
    steps = {round(float(b["t_s"]) - float(a["t_s"]), 6) for a, b in zip(rows, rows[1:20])}
    assert steps == {0.04}
    first = result.report["faults"][0]
    assert first["code"] in {"temp_sensor_range", "overtemp"} and first["zone"] == "left_foot"
    assert 30.0 <= first["t_s"] <= 30.0 + 0.26 + 1e-6
    row = next(r for r in rows if first["code"] in r["faults"].split("|"))
    assert all(float(row[f"pad.{z}.duty"]) == 0.0 for z in CFG.pad_names)
    assert result.report["outcome"] == "fault"


def test_at_100_khz_a_lost_pad_sensor_goes_stale_within_the_bound(tmp_path):
    result, rows = run_sim(tmp_path, program="full_leg", injections=["chip_missing:left_calf@20"],
                           config=config_at(100_000), max_runtime_s=30)
    first = result.report["faults"][0]
    assert first["code"] == "temp_stale"
    # the last read before the loss is at most one rotation (4 ticks, 0.16 s) earlier
    assert 20.0 + 1.0 - 0.16 - 1e-6 <= first["t_s"] <= 20.0 + 1.26 + 1e-6  # README: stale 1 s + one read + a tick
    assert result.supervisor.config.rates.fast_hz == 25.0


def test_at_100_khz_a_program_completes(tmp_path):
    result, _ = run_sim(tmp_path, program="quick_circulation", config=config_at(100_000))
    assert result.supervisor.config.rates.fast_hz == 25.0
    assert result.report["outcome"] == "completed", result.report["faults"]


@pytest.mark.parametrize("clock_hz", [5_000, 2_000_000, 400_000.5, "fast"])
def test_a_bus_clock_out_of_range_is_refused_naming_the_field(clock_hz):
    from controller.model.config import ConfigError

    with pytest.raises(ConfigError, match=r"board\.i2c_clock_hz"):
        load_config(overrides={"board": {"i2c_clock_hz": clock_hz}})
    assert load_config(overrides={"board": {"i2c_clock_hz": 100_000}}).board.i2c_clock_hz == 100_000
    assert CFG.board.i2c_clock_hz == 400_000  # the default: fast mode, what the package sets


def test_a_hung_bus_at_start_is_not_measured_and_waits_one_timeout_only():
    rig = Rig()
    stalls = []
    rig.sim.bus.set_hang(True, stall=stalls.append, stall_s=1.0)
    assert rig.board.measure_bus_time_s() is None
    assert stalls == [1.0]  # one transfer's timeout, not one per measured tick
    assert choose_scan_rate(CFG, None).config is CFG
